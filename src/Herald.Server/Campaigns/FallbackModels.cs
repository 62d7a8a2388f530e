using Herald.Domain.Templates;
using Herald.Server.Infrastructure;

namespace Herald.Server.Campaigns;

/// <summary>
/// The SMS or email a push campaign sends instead to users its push did not reach (R-MSG-8): users
/// with no push-capable device, users whose every device failed, and — when <see cref="AfterSeconds"/>
/// is set — users none of whose devices confirmed delivery within that many seconds of the send.
/// </summary>
public sealed record FallbackDefinition
{
    /// <summary>sms | email.</summary>
    public string Channel { get; init; } = "";
    /// <summary>SMS: body. Email: subject and html and/or text. Templates, like the push content.</summary>
    public ContentDefinition Content { get; init; } = new();
    /// <summary>The delivery-receipt window; without it only "no device" and "failed" lead to a fallback.</summary>
    public int? AfterSeconds { get; init; }
}

/// <summary>Why a user got a fallback.</summary>
public static class FallbackCauses
{
    public const string NoDevice = "no push device";
    public const string PushFailed = "push failed";
    public const string NotDelivered = "not delivered in time";
}

/// <summary>States of a fallback row.</summary>
public static class FallbackStates
{
    public const string Pending = "pending";
    public const string Sending = "sending";
    public const string Sent = "sent";
    public const string Failed = "failed";
    public const string Skipped = "skipped";
}

/// <summary>Fallback counts of one campaign: by cause, by outcome, and failures and skips by reason.</summary>
public sealed record FallbackReport(string Channel, int Total, IReadOnlyDictionary<string, int> ByCause, IReadOnlyDictionary<string, int> ByState,
    IReadOnlyDictionary<string, int> FailedByReason, IReadOnlyDictionary<string, int> SkippedByReason);

/// <summary>One user's fallback, as listed by the API.</summary>
public sealed class FallbackView
{
    public string? ExternalId { get; init; }
    public int UserOrdinal { get; init; }
    public string Channel { get; init; } = "";
    public string Cause { get; init; } = "";
    public string State { get; init; } = "";
    public string? Reason { get; init; }
    public string MessageId { get; init; } = "";
    public int Attempts { get; init; }
    public long CreatedAt { get; init; }
    public long? SentAt { get; init; }
}

/// <summary>Checks a campaign's fallback when the campaign is saved; templates are compiled now.</summary>
public static class FallbackValidator
{
    public const int MaxAfterSeconds = 7 * 24 * 3600;

    public static void Validate(CampaignDefinition d)
    {
        if (d.Fallback is not { } f) return;
        if (d.Channel is not (CampaignChannels.Push or CampaignChannels.WebPush))
            throw ProblemException.BadRequest($"A fallback exists only for push and web push campaigns; this one is {d.Channel}.", "fallback");
        switch (f.Channel)
        {
            case CampaignChannels.Sms:
                if (string.IsNullOrWhiteSpace(f.Content.Body)) throw ProblemException.BadRequest("fallback.content.body is required for an SMS fallback.", "fallback.content.body");
                break;
            case CampaignChannels.Email:
                if (string.IsNullOrWhiteSpace(f.Content.Subject)) throw ProblemException.BadRequest("fallback.content.subject is required for an email fallback.", "fallback.content.subject");
                if (string.IsNullOrWhiteSpace(f.Content.Html) && string.IsNullOrWhiteSpace(f.Content.Text))
                    throw ProblemException.BadRequest("An email fallback needs fallback.content.html or fallback.content.text.", "fallback.content.html");
                break;
            default:
                throw ProblemException.BadRequest($"fallback.channel must be sms or email; got '{f.Channel}'.", "fallback.channel");
        }
        if (f.AfterSeconds is < 1 or > MaxAfterSeconds)
            throw ProblemException.BadRequest($"fallback.afterSeconds must be 1..{MaxAfterSeconds} (7 days); got {f.AfterSeconds}.", "fallback.afterSeconds", MaxAfterSeconds);
        foreach (var (field, source, html) in CampaignValidator.TemplateFields(AsCampaign(d)))
        {
            try { MessageTemplate.Compile(source, html); }
            catch (TemplateException e)
            {
                var p = ProblemException.Unprocessable($"fallback.{field} does not compile at line {e.Line}, column {e.Column}: {e.Message}", $"fallback.{field}");
                p.Extensions["line"] = e.Line;
                p.Extensions["column"] = e.Column;
                throw p;
            }
        }
    }

    /// <summary>The fallback as a campaign of its own channel (its texts only), so the campaign renderer renders it.</summary>
    public static CampaignDefinition AsCampaign(CampaignDefinition d)
    {
        var c = d.Fallback!.Content;
        return new CampaignDefinition
        {
            Name = d.Name, Channel = d.Fallback.Channel, MissingValues = d.MissingValues,
            Content = new ContentDefinition { Body = c.Body, Subject = c.Subject, Html = c.Html, Text = c.Text, Locales = c.Locales },
        };
    }
}
