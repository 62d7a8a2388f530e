namespace Herald.Gateways.Http;

/// <summary>
/// Paces sends under a provider quota ("600,000 per minute per project"). Capacity plus refill over one
/// period never exceed the quota, so no window of that length sends more than allowed.
/// </summary>
public sealed class TokenBucket
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly double _capacity;
    private readonly double _perSecond;
    private double _tokens;
    private long _lastTimestamp;

    /// <param name="permits">Quota per <paramref name="period"/>.</param>
    /// <param name="period">Quota window.</param>
    /// <param name="burst">Permits usable at once; defaults to one 60th of the quota (a second's worth of a per-minute quota).</param>
    /// <param name="time">Clock; tests pass a manual one.</param>
    public TokenBucket(int permits, TimeSpan period, int? burst = null, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(permits, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(period, TimeSpan.Zero);
        _time = time ?? TimeProvider.System;
        _capacity = Math.Clamp(burst ?? permits / 60, 1, permits);
        _perSecond = Math.Max(permits - _capacity, 1) / period.TotalSeconds;
        _tokens = _capacity;
        _lastTimestamp = _time.GetTimestamp();
    }

    /// <summary>Takes one permit, or says how long until one is free.</summary>
    public bool TryTake(out TimeSpan retryAfter)
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            var elapsed = _time.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
            _lastTimestamp = now;
            _tokens = Math.Min(_capacity, _tokens + elapsed * _perSecond);
            if (_tokens >= 1)
            {
                _tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }
            retryAfter = TimeSpan.FromSeconds((1 - _tokens) / _perSecond);
            return false;
        }
    }
}
