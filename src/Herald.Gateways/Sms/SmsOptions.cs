using System.ComponentModel.DataAnnotations;

namespace Herald.Gateways.Sms;

public enum SmsAuthScheme { None, Bearer, Basic }

/// <summary>Settings for an HTTP SMS provider speaking Herald's documented request shape (docs/gateways-webpush-email-sms.md).</summary>
public sealed class SmsOptions
{
    [Required] public Uri Endpoint { get; set; } = null!;

    /// <summary>Sender id or number used when a message names none.</summary>
    [Required] public string From { get; set; } = "";

    public SmsAuthScheme Auth { get; set; } = SmsAuthScheme.None;
    /// <summary>For <see cref="SmsAuthScheme.Bearer"/>.</summary>
    public string? Token { get; set; }
    /// <summary>For <see cref="SmsAuthScheme.Basic"/>.</summary>
    public string? UserName { get; set; }
    public string? Password { get; set; }

    /// <summary>A provider that has not answered by then is treated as unavailable (retry later).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retry delay for 429 / 5xx answers without a usable Retry-After.</summary>
    public TimeSpan DefaultRetryAfter { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>One rendered SMS. <see cref="To"/> in E.164 (+ and 8–15 digits).</summary>
public sealed record SmsMessage(string To, string Text, string MessageId, string? From = null);
