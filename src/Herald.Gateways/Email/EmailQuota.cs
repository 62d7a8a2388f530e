namespace Herald.Gateways.Email;

/// <summary>
/// A sending quota as Amazon SES states it (GetSendQuota), counted per recipient. SES drops what
/// goes over it with a 454, so Herald paces itself under it instead.
/// </summary>
public sealed class EmailQuota
{
    /// <summary>Recipients per rolling 24 hours; −1 means unlimited (the SES sandbox allows 200).</summary>
    public long Max24HourSend { get; set; } = -1;

    /// <summary>Recipients per second; −1 (or 0) means unlimited (the SES sandbox allows 1).</summary>
    public double MaxSendRate { get; set; } = -1;
}

/// <summary>
/// Paces sends under an <see cref="EmailQuota"/>: a token bucket for the per-second rate (holding
/// one second's worth, so bursts stay within what SES measures) and a rolling 24-hour count. It
/// never drops: a send it cannot allow now gets the wait until it can.
/// </summary>
public sealed class EmailPacer
{
    private static readonly TimeSpan Day = TimeSpan.FromHours(24);

    private readonly EmailQuota _quota;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    // Sends grouped per second so a day's history stays at most 86,400 entries however much is sent.
    private readonly LinkedList<(long Second, long Count)> _window = new();
    private long _inWindow;
    private double _tokens;
    private DateTimeOffset _refilledAt;

    public EmailPacer(EmailQuota quota, TimeProvider time)
    {
        _quota = quota;
        _time = time;
        _tokens = Capacity;
        _refilledAt = time.GetUtcNow();
    }

    private bool RateLimited => _quota.MaxSendRate > 0;
    private double Capacity => Math.Max(1, _quota.MaxSendRate);

    /// <summary>Recipients counted in the last 24 hours.</summary>
    public long SentInLast24Hours
    {
        get
        {
            lock (_lock)
            {
                Expire(_time.GetUtcNow());
                return _inWindow;
            }
        }
    }

    /// <summary>
    /// Takes quota for <paramref name="recipients"/> and returns true, or returns false and how long
    /// until it could (nothing taken). Callers requeue the message for that long.
    /// </summary>
    public bool TryAcquire(int recipients, out TimeSpan retryAfter)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(recipients);
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            retryAfter = Max(DailyWait(now, recipients), RateWait(now, recipients));
            if (retryAfter > TimeSpan.Zero) return false;

            if (RateLimited) _tokens -= recipients;
            if (_quota.Max24HourSend >= 0)
            {
                long second = now.ToUnixTimeSeconds();
                if (_window.Last is { } last && last.Value.Second == second)
                    last.Value = (second, last.Value.Count + recipients);
                else
                    _window.AddLast((second, recipients));
                _inWindow += recipients;
            }
            return true;
        }
    }

    private TimeSpan RateWait(DateTimeOffset now, int recipients)
    {
        if (!RateLimited) return TimeSpan.Zero;
        double elapsed = Math.Max(0, (now - _refilledAt).TotalSeconds);
        _tokens = Math.Min(Capacity, _tokens + elapsed * _quota.MaxSendRate);
        _refilledAt = now;
        // A message with more recipients than the bucket holds goes when the bucket is full.
        double needed = Math.Min(recipients, Capacity);
        if (_tokens >= needed) return TimeSpan.Zero;
        return TimeSpan.FromSeconds(Math.Ceiling((needed - _tokens) / _quota.MaxSendRate * 1000) / 1000);
    }

    private TimeSpan DailyWait(DateTimeOffset now, int recipients)
    {
        if (_quota.Max24HourSend < 0) return TimeSpan.Zero;
        Expire(now);
        if (_inWindow + recipients <= _quota.Max24HourSend) return TimeSpan.Zero;
        if (recipients > _quota.Max24HourSend) return Day;

        long freed = 0;
        foreach (var (second, count) in _window)
        {
            freed += count;
            if (_inWindow - freed + recipients <= _quota.Max24HourSend)
                return DateTimeOffset.FromUnixTimeSeconds(second + 1) + Day - now;
        }
        return Day;
    }

    // An entry counts while its second is within the last 24 hours.
    private void Expire(DateTimeOffset now)
    {
        long cutoff = (now - Day).ToUnixTimeSeconds();
        while (_window.First is { } first && first.Value.Second < cutoff)
        {
            _inWindow -= first.Value.Count;
            _window.RemoveFirst();
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
