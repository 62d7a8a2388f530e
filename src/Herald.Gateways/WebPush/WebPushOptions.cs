using System.ComponentModel.DataAnnotations;

namespace Herald.Gateways.WebPush;

/// <summary>One app's web push settings (section "Herald:WebPush" or per app from the database).</summary>
public sealed class WebPushOptions
{
    /// <summary>The app's VAPID key pair (<see cref="VapidKeys.Generate"/>), base64url.</summary>
    [Required] public string VapidPublicKey { get; set; } = "";
    [Required] public string VapidPrivateKey { get; set; } = "";

    /// <summary>RFC 8292 "sub": a mailto: or https: contact the push service can reach when our pushes misbehave.</summary>
    [Required] public string Subject { get; set; } = "";

    /// <summary>TTL when the message sets none: 4 weeks, about what browser push services keep a message at most.</summary>
    public TimeSpan DefaultTimeToLive { get; set; } = TimeSpan.FromDays(28);

    /// <summary>A push service that has not answered by then is treated as unavailable (retry later, never "dead").</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retry delay for 429 / 5xx answers without a usable Retry-After.</summary>
    public TimeSpan DefaultRetryAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Notification icon the service worker shows (the app's icon), optional.</summary>
    public string? IconUrl { get; set; }
}
