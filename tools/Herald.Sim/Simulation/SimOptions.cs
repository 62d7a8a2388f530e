namespace Herald.Sim.Simulation;

/// <summary>What the simulated population looks like and how it misbehaves.</summary>
public sealed record SimOptions
{
    public int Devices { get; init; } = 10_000;
    public int Seed { get; init; } = 42;
    /// <summary>Shares of ios / android; the rest are web browsers.</summary>
    public double IosShare { get; init; } = 0.35;
    public double AndroidShare { get; init; } = 0.45;
    /// <summary>Share of devices whose user logs in (identify with an external id and email).</summary>
    public double IdentifiedShare { get; init; } = 0.6;
    public int Concurrency { get; init; } = 32;
    public ReactionRates Reactions { get; init; } = new();

    // Failure injection, each a percentage of devices.
    /// <summary>Tokens the provider says are unregistered (uninstalled apps, revoked subscriptions).</summary>
    public double DeadTokenPercent { get; init; }
    /// <summary>The provider answers the first send to the device with 429.</summary>
    public double TooManyRequestsPercent { get; init; }
    /// <summary>The provider answers the first send with a 5xx.</summary>
    public double ServerErrorPercent { get; init; }
    /// <summary>The provider answers the first send only after <see cref="SlowDelay"/>.</summary>
    public double SlowPercent { get; init; }
    public TimeSpan SlowDelay { get; init; } = TimeSpan.FromSeconds(40);

    public static readonly string[] Timezones = ["Europe/Istanbul", "Asia/Tokyo", "America/New_York", "Europe/Berlin", "UTC"];
    public static readonly string[] Locales = ["tr-TR", "en-US", "ja-JP", "de-DE"];
}
