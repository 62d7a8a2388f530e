using Herald.Gateways.Http;

namespace Herald.Gateways.Apns;

/// <summary>APNs provider API settings (section "Gateways:Apns").</summary>
public sealed class ApnsOptions
{
    /// <summary>Production; the sandbox is https://api.sandbox.push.apple.com. Tests use a loopback server.</summary>
    public Uri BaseAddress { get; set; } = new("https://api.push.apple.com");

    /// <summary>Apple refuses a provider token older than 60 minutes and one refreshed more often than
    /// every 20 (TooManyProviderTokenUpdates); 50 leaves room for clock skew on both sides.</summary>
    public TimeSpan ProviderTokenRefreshAfter { get; set; } = TimeSpan.FromMinutes(50);

    /// <summary>APNs publishes no quota; null sends as fast as the connections allow.</summary>
    public int? MessagesPerMinute { get; set; }

    public ProviderHttpOptions Http { get; set; } = new();

    internal void Validate()
    {
        if (!BaseAddress.IsAbsoluteUri)
            throw new ArgumentException($"Gateways:Apns:BaseAddress must be absolute, was {BaseAddress}.");
        if (ProviderTokenRefreshAfter < TimeSpan.FromMinutes(20) || ProviderTokenRefreshAfter >= TimeSpan.FromMinutes(60))
            throw new ArgumentException($"Gateways:Apns:ProviderTokenRefreshAfter must be at least 20 and under 60 minutes, was {ProviderTokenRefreshAfter}.");
        if (MessagesPerMinute is < 1)
            throw new ArgumentException($"Gateways:Apns:MessagesPerMinute must be positive or unset, was {MessagesPerMinute}.");
        Http.Validate("Gateways:Apns:Http");
    }
}
