using System.Net.Mail;
using Herald.Domain.Alerts;
using Herald.Server.Infrastructure;

namespace Herald.Server.Alerts;

/// <summary>The kinds of incident (R-DLV-4).</summary>
public static class AlertKinds
{
    public const string CampaignFailureRate = "campaign_failure_rate";
    public const string ProviderErrorRate = "provider_error_rate";
    public const string CredentialError = "credential_error";
}

/// <summary>One incident as the API and the panel show it. Times are Unix milliseconds.</summary>
public sealed record AlertView(
    long Id, string Kind, long? CampaignId, string? CampaignName, string? Provider, string Reason, IReadOnlyList<ReasonCount> Reasons,
    long Failed, long Total, double? Threshold, long OpenedAt, long LastSeenAt, long? ResolvedAt, long? NotifiedAt,
    IReadOnlyList<string> Notified, string? NotifyError)
{
    public double Rate => Total == 0 ? 0 : Math.Round((double)Failed / Total, 4);
    public bool Open => ResolvedAt is null;
}

/// <summary>
/// Where an app's alerts go (besides the operator-wide settings), and the app's own thresholds: null
/// means the installation's (Herald:Alerts), which <c>defaults</c> shows.
/// </summary>
public sealed record AlertSettingsView(string? WebhookUrl, IReadOnlyList<string> Emails, long? UpdatedAt,
    double? CampaignFailureRate = null, double? ProviderErrorRate = null, AlertThresholds? Defaults = null);

/// <summary>The share of failures that opens an incident, per kind.</summary>
public sealed record AlertThresholds(double CampaignFailureRate, double ProviderErrorRate);

/// <summary>
/// PUT /api/v1/app/alert-settings: a webhook URL (http or https) and up to ten email addresses (null or
/// empty clears), and optionally the app's own thresholds (0.0001–1; null for the installation's).
/// </summary>
public sealed record AlertSettingsInput(string? WebhookUrl, IReadOnlyList<string>? Emails, double? CampaignFailureRate = null, double? ProviderErrorRate = null)
{
    public const int MaxEmails = 10;
    public const int MaxUrlLength = 2000;

    public static bool IsWebhookUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps);

    private static void Rate(double? rate, string field)
    {
        if (rate is { } r && !(r >= 0.0001 && r <= 1))
            throw ProblemException.BadRequest($"{field} is a share from 0.0001 to 1 (0.2 = 20% of the messages), or null for the installation's; got {r}.", field, 1);
    }

    /// <summary>The input cleaned up, or a 400 naming the field.</summary>
    public (string? WebhookUrl, IReadOnlyList<string> Emails) Validated()
    {
        var url = string.IsNullOrWhiteSpace(WebhookUrl) ? null : WebhookUrl.Trim();
        if (url is not null)
        {
            if (url.Length > MaxUrlLength)
                throw ProblemException.BadRequest($"webhookUrl is {url.Length} characters; the limit is {MaxUrlLength}.", "webhookUrl", MaxUrlLength);
            if (!IsWebhookUrl(url))
                throw ProblemException.BadRequest($"webhookUrl must be an absolute http or https URL; got '{url}'.", "webhookUrl");
        }
        var emails = (Emails ?? []).Where(e => !string.IsNullOrWhiteSpace(e)).Select(e => e.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (emails.Count > MaxEmails)
            throw ProblemException.BadRequest($"emails has {emails.Count} addresses; the limit is {MaxEmails}.", "emails", MaxEmails);
        for (var i = 0; i < emails.Count; i++)
        {
            if (!MailAddress.TryCreate(emails[i], out var a) || a.Address != emails[i] || emails[i].Contains(','))
                throw ProblemException.BadRequest($"emails[{i}] '{emails[i]}' is not an email address.", $"emails[{i}]");
        }
        Rate(CampaignFailureRate, "campaignFailureRate");
        Rate(ProviderErrorRate, "providerErrorRate");
        return (url, emails);
    }
}
