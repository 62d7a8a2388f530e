namespace Herald.Gateways.Http;

/// <summary>Retry delays. Jitter only ever adds, so a documented minimum (FCM quota: 1 minute) holds.</summary>
public static class Backoff
{
    public static readonly TimeSpan DefaultCap = TimeSpan.FromHours(1);

    /// <summary><paramref name="first"/> × 2^(attempt−1), capped, plus up to <paramref name="jitter"/> of itself.</summary>
    public static TimeSpan Exponential(TimeSpan first, int attempt, TimeSpan? cap = null, double jitter = 0.2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        var max = (cap ?? DefaultCap).Ticks;
        var ticks = Math.Min(first.Ticks * Math.Pow(2, Math.Min(attempt - 1, 40)), max);
        ticks += ticks * jitter * Random.Shared.NextDouble();
        return TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>
    /// The delay before attempt <paramref name="attempt"/> + 1, for whoever carries the attempt count
    /// (the dispatcher). A gateway's outcome holds the first delay (already provider-specific:
    /// Retry-After, FCM quota ≥ 1 min, 1 s for 5xx), so later attempts double it.
    /// </summary>
    public static TimeSpan ForAttempt(SendOutcome outcome, int attempt, TimeSpan? cap = null)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        if (outcome.Kind != OutcomeKind.RetryLater)
            throw new ArgumentException($"Only RetryLater outcomes are retried; this one is {outcome.Kind}.", nameof(outcome));
        var first = outcome.RetryAfter ?? TimeSpan.FromSeconds(1);
        var capped = cap ?? DefaultCap;
        return Exponential(first, attempt, first > capped ? first : capped, jitter: 0);
    }
}
