namespace Herald.Tests.Support;

/// <summary>A clock the test moves by hand (no sleeping tests).</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;
    private readonly Lock _lock = new();

    public override DateTimeOffset GetUtcNow() { lock (_lock) return _now; }

    public void Advance(TimeSpan by) { lock (_lock) _now += by; }

    public void Set(DateTimeOffset to) { lock (_lock) _now = to; }
}
