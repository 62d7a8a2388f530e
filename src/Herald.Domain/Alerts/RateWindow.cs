namespace Herald.Domain.Alerts;

/// <summary>A failure reason and how often it was seen in the window.</summary>
public readonly record struct ReasonCount(string Reason, long Count);

/// <summary>What a <see cref="RateWindow"/> holds right now.</summary>
public readonly record struct RateSnapshot(long Failed, long Total, IReadOnlyList<ReasonCount> TopReasons)
{
    public double Rate => Total == 0 ? 0 : (double)Failed / Total;

    /// <summary>True when there is enough to judge (at least <paramref name="minimum"/>) and the rate is at or over the threshold.</summary>
    public bool Crosses(double threshold, long minimum) => Total > 0 && Total >= minimum && Rate >= threshold;
}

/// <summary>
/// Failures out of a total over a sliding window of time, kept in a ring of buckets (a tenth of the
/// window each, so what expires goes in steps of a tenth). Remembers the most frequent failure
/// reasons per bucket. Thread-safe; time is given by the caller.
/// </summary>
public sealed class RateWindow
{
    /// <summary>Distinct reasons kept per bucket; more are counted as "other" so memory stays bounded.</summary>
    public const int MaxReasonsPerBucket = 20;

    /// <summary>Longer reasons are cut here.</summary>
    public const int MaxReasonLength = 200;

    private const string Other = "other";

    private readonly long _bucketTicks;
    private readonly Bucket[] _buckets;
    private readonly Lock _gate = new();

    private sealed class Bucket
    {
        public long Index = long.MinValue;
        public long Failed;
        public long Total;
        public readonly Dictionary<string, long> Reasons = new(StringComparer.Ordinal);

        public void Reset(long index)
        {
            Index = index;
            Failed = 0;
            Total = 0;
            Reasons.Clear();
        }
    }

    public RateWindow(TimeSpan window, int buckets = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 1);
        if (window.Ticks < buckets) throw new ArgumentOutOfRangeException(nameof(window), window, "The window is too short for its buckets.");
        Window = window;
        _bucketTicks = window.Ticks / buckets;
        _buckets = new Bucket[buckets];
        for (var i = 0; i < buckets; i++) _buckets[i] = new Bucket();
    }

    public TimeSpan Window { get; }

    /// <summary>The granularity of expiry: one bucket's span.</summary>
    public TimeSpan Step => TimeSpan.FromTicks(_bucketTicks);

    /// <summary>Counts <paramref name="total"/> outcomes at <paramref name="at"/>, of which the given failure reasons (one per failure) failed.</summary>
    public void Add(DateTimeOffset at, long total, IReadOnlyCollection<string> failureReasons)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(total, failureReasons.Count);
        var index = at.UtcTicks / _bucketTicks;
        lock (_gate)
        {
            var b = _buckets[(int)(index % _buckets.Length)];
            if (b.Index != index)
            {
                // An older bucket's slot is reused; an add for a time already expired is dropped.
                if (b.Index > index) return;
                b.Reset(index);
            }
            b.Total += total;
            b.Failed += failureReasons.Count;
            foreach (var raw in failureReasons)
            {
                var reason = raw.Length <= MaxReasonLength ? raw : raw[..MaxReasonLength];
                if (!b.Reasons.ContainsKey(reason) && b.Reasons.Count >= MaxReasonsPerBucket) reason = Other;
                b.Reasons[reason] = b.Reasons.GetValueOrDefault(reason) + 1;
            }
        }
    }

    /// <summary>Failures, total and the <paramref name="topReasons"/> most frequent reasons over the window ending at <paramref name="now"/>.</summary>
    public RateSnapshot Read(DateTimeOffset now, int topReasons = 3)
    {
        var current = now.UtcTicks / _bucketTicks;
        long failed = 0, total = 0;
        var reasons = new Dictionary<string, long>(StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var b in _buckets)
            {
                if (b.Index > current || b.Index <= current - _buckets.Length) continue;
                failed += b.Failed;
                total += b.Total;
                foreach (var (reason, n) in b.Reasons) reasons[reason] = reasons.GetValueOrDefault(reason) + n;
            }
        }
        var top = reasons.OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal).Take(topReasons)
            .Select(r => new ReasonCount(r.Key, r.Value)).ToList();
        return new RateSnapshot(failed, total, top);
    }

    /// <summary>True when nothing counted is still inside the window (the window can be forgotten).</summary>
    public bool IsEmpty(DateTimeOffset now) => Read(now, 0).Total == 0;
}
