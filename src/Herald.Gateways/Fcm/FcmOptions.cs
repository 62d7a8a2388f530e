using Herald.Gateways.Http;

namespace Herald.Gateways.Fcm;

/// <summary>FCM HTTP v1 settings (section "Gateways:Fcm").</summary>
public sealed class FcmOptions
{
    /// <summary>The real service; tests point it at a loopback server.</summary>
    public Uri BaseAddress { get; set; } = new("https://fcm.googleapis.com");

    /// <summary>Overrides the key file's token_uri (normally https://oauth2.googleapis.com/token).</summary>
    public Uri? TokenUri { get; set; }

    /// <summary>Google's default per-project quota. Null turns local pacing off (benchmarks, raised quotas
    /// are better expressed as a bigger number).</summary>
    public int? MessagesPerMinute { get; set; } = 600_000;

    /// <summary>Refresh the OAuth token this long before Google says it expires, so no send races the expiry.</summary>
    public TimeSpan AccessTokenRefreshMargin { get; set; } = TimeSpan.FromMinutes(5);

    public ProviderHttpOptions Http { get; set; } = new();

    internal void Validate()
    {
        if (!BaseAddress.IsAbsoluteUri)
            throw new ArgumentException($"Gateways:Fcm:BaseAddress must be absolute, was {BaseAddress}.");
        if (MessagesPerMinute is < 1)
            throw new ArgumentException($"Gateways:Fcm:MessagesPerMinute must be positive or unset, was {MessagesPerMinute}.");
        if (AccessTokenRefreshMargin < TimeSpan.Zero || AccessTokenRefreshMargin > TimeSpan.FromMinutes(30))
            throw new ArgumentException($"Gateways:Fcm:AccessTokenRefreshMargin must be between 0 and 30 minutes, was {AccessTokenRefreshMargin}.");
        Http.Validate("Gateways:Fcm:Http");
    }
}
