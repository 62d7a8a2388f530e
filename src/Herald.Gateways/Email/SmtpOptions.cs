using System.ComponentModel.DataAnnotations;

namespace Herald.Gateways.Email;

/// <summary>SMTP relay settings (Amazon SES SMTP or any relay). Section "Herald:Email:Smtp".</summary>
public sealed class SmtpOptions
{
    [Required] public string Host { get; set; } = "";

    /// <summary>587 with STARTTLS is what SES (and most relays) expect.</summary>
    [Range(1, 65535)] public int Port { get; set; } = 587;

    /// <summary>
    /// STARTTLS. SES refuses mail without TLS, so this stays on outside tests. System.Net.Mail has no
    /// implicit TLS (ports 465/2465): use 587 or 2587.
    /// </summary>
    public bool EnableSsl { get; set; } = true;

    public string? UserName { get; set; }
    public string? Password { get; set; }

    /// <summary>A relay that has not finished a send by then is treated as unavailable (retry later).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Wait after a 4xx that is neither a rate nor a daily-quota throttle.</summary>
    public TimeSpan TransientRetryAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The account's sending quota; the gateway paces under it instead of being throttled.</summary>
    public EmailQuota Quota { get; set; } = new();
}
