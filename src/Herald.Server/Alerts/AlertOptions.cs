using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Alerts;

/// <summary>Bound from <c>Herald:Alerts</c> (docs/alerts.md).</summary>
public sealed class AlertOptions : IValidatableObject
{
    public const string Section = "Herald:Alerts";

    /// <summary>Off: no incidents are opened (the counters are not kept either).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Rates are judged over this sliding window; an incident resolves after a window without its condition.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Share of a campaign's finished messages that failed (token dead, refused, gave up) that opens an incident.</summary>
    [Range(0.0001, 1)] public double CampaignFailureRate { get; set; } = 0.2;

    /// <summary>Finished messages a campaign needs in the window before its rate is judged (a few early failures are no trend).</summary>
    [Range(1, 1_000_000)] public int CampaignMinimum { get; set; } = 50;

    /// <summary>
    /// Share of a provider's answers that were its own errors (5xx, 429, timeouts: "retry later") that opens an
    /// incident. Throttling under a burst is normal, so this sits higher than the campaign threshold.
    /// </summary>
    [Range(0.0001, 1)] public double ProviderErrorRate { get; set; } = 0.25;

    /// <summary>Provider answers needed in the window before its error rate is judged.</summary>
    [Range(1, 1_000_000)] public int ProviderMinimum { get; set; } = 100;

    /// <summary>Operator-wide webhook receiving every app's alerts (JSON POST), besides each app's own.</summary>
    public string? WebhookUrl { get; set; }

    /// <summary>Operator addresses receiving every app's alerts, besides each app's own.</summary>
    public List<string> Emails { get; set; } = [];

    /// <summary>The operator's SMTP relay for alert email. Without a host, an app's alerts go through the app's own SMTP credentials.</summary>
    public AlertSmtpOptions Smtp { get; set; } = new();

    /// <summary>A webhook that has not answered by then counts as failed (and is retried).</summary>
    public TimeSpan WebhookTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Notification tries per incident before giving up; the waits double from <see cref="RetryDelay"/>, at most an hour.</summary>
    [Range(1, 100)] public int MaxNotifyAttempts { get; set; } = 10;

    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often an idle notifier looks for due notifications and resolves quiet incidents (a new incident wakes it at once).</summary>
    public TimeSpan Poll { get; set; } = TimeSpan.FromSeconds(5);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Window < TimeSpan.FromSeconds(10))
            yield return new ValidationResult($"{Section}:Window must be at least 00:00:10; got {Window}.", [nameof(Window)]);
        if (WebhookUrl is { Length: > 0 } url && !AlertSettingsInput.IsWebhookUrl(url))
            yield return new ValidationResult($"{Section}:WebhookUrl must be an absolute http(s) URL; got '{url}'.", [nameof(WebhookUrl)]);
        foreach (var e in Emails.Where(e => !System.Net.Mail.MailAddress.TryCreate(e, out _)))
            yield return new ValidationResult($"{Section}:Emails has '{e}', which is not an email address.", [nameof(Emails)]);
        if (Smtp.Host is { Length: > 0 } && !System.Net.Mail.MailAddress.TryCreate(Smtp.From, out _))
            yield return new ValidationResult($"{Section}:Smtp:From must be an email address when {Section}:Smtp:Host is set; got '{Smtp.From}'.", ["Smtp.From"]);
        if (WebhookTimeout <= TimeSpan.Zero || RetryDelay <= TimeSpan.Zero || Poll <= TimeSpan.Zero)
            yield return new ValidationResult($"{Section}:WebhookTimeout, RetryDelay and Poll must be positive.", [nameof(Poll)]);
    }
}

/// <summary>The operator's SMTP relay for alert email (<c>Herald:Alerts:Smtp</c>).</summary>
public sealed class AlertSmtpOptions
{
    public string? Host { get; set; }
    [Range(1, 65535)] public int Port { get; set; } = 587;
    public string? From { get; set; }
    public string? UserName { get; set; }
    public string? Password { get; set; }
    public bool StartTls { get; set; } = true;
}
