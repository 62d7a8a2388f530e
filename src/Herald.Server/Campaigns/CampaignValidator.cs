using Herald.Domain.Templates;
using Herald.Server.Apps;
using Herald.Server.Infrastructure;

namespace Herald.Server.Campaigns;

/// <summary>
/// Checks a campaign when it is saved: shape, channel rules (R-MSG-2 button limits), schedule, and
/// every template compiled — a template error is reported now, with field and position, not at send
/// time (R-MSG-3).
/// </summary>
public static class CampaignValidator
{
    private static readonly string[] Actions = ["open_app", "url", "deeplink", "dismiss", "set_attribute"];

    public static CampaignDefinition Validate(CampaignDefinition d)
    {
        if (string.IsNullOrWhiteSpace(d.Name)) throw ProblemException.BadRequest("name is required.", "name");
        if (d.Name.Length > AppService.MaxNameLength) throw ProblemException.BadRequest($"name is longer than {AppService.MaxNameLength} characters.", "name", AppService.MaxNameLength);
        if (!CampaignChannels.All.Contains(d.Channel))
            throw ProblemException.BadRequest($"channel must be one of {string.Join(", ", CampaignChannels.All)}; got '{d.Channel}'.", "channel");
        if (d.MissingValues is not ("default" or "skip"))
            throw ProblemException.BadRequest($"missingValues must be 'default' or 'skip'; got '{d.MissingValues}'.", "missingValues");

        var c = d.Content;
        switch (d.Channel)
        {
            case CampaignChannels.Email:
                Require(c.Subject, "content.subject");
                if (string.IsNullOrWhiteSpace(c.Html) && string.IsNullOrWhiteSpace(c.Text))
                    throw ProblemException.BadRequest("An email needs content.html or content.text.", "content.html");
                break;
            case CampaignChannels.Sms:
                Require(c.Body, "content.body");
                break;
            default:
                Require(c.Body, "content.body");
                break;
        }
        Buttons(d);
        if (c.TtlSeconds is < 0 or > 2_419_200)
            throw ProblemException.BadRequest("content.ttlSeconds must be 0..2419200 (28 days).", "content.ttlSeconds", 2_419_200);
        if (c.CollapseKey is { Length: > 64 })
            throw ProblemException.BadRequest("content.collapseKey is limited to 64 bytes (APNs apns-collapse-id).", "content.collapseKey", 64);
        if (c.Badge is < 0) throw ProblemException.BadRequest("content.badge must not be negative.", "content.badge");
        Audience(d.Audience, someoneRequired: d.Trigger is null);
        Schedule(d.Schedule);
        Automation.AutomationValidator.Validate(d);
        Templates(d);
        AbTests.Validate(d);
        FallbackValidator.Validate(d);
        return d;
    }

    private static void Buttons(CampaignDefinition d)
    {
        var buttons = d.Content.Buttons;
        if (buttons is null || buttons.Count == 0) return;
        if (d.Channel is CampaignChannels.Email or CampaignChannels.Sms)
            throw ProblemException.BadRequest("Buttons exist only on push and web push.", "content.buttons");
        var platforms = d.Audience.Platforms;
        // iOS shows at most 4, Android 3, browsers 2 (R-MSG-2).
        var (limit, why) = d.Channel == CampaignChannels.WebPush ? (2, "web push")
            : platforms is { Count: > 0 } && !platforms.Contains("android") ? (4, "iOS")
            : (3, "Android");
        if (buttons.Count > limit)
            throw ProblemException.BadRequest($"{buttons.Count} buttons; {why} shows at most {limit}.", "content.buttons", limit);
        for (var i = 0; i < buttons.Count; i++)
        {
            var b = buttons[i];
            Require(b.Text, $"content.buttons[{i}].text");
            if (!Actions.Contains(b.Action))
                throw ProblemException.BadRequest($"content.buttons[{i}].action must be one of {string.Join(", ", Actions)}.", $"content.buttons[{i}].action");
            if (b.Action is "url" or "deeplink" or "set_attribute" && string.IsNullOrWhiteSpace(b.Target))
                throw ProblemException.BadRequest($"A '{b.Action}' button needs a target.", $"content.buttons[{i}].target");
        }
    }

    public const int MaxGeofences = 100;

    // A triggered campaign's audience is whoever triggers it; its audience may only narrow that.
    private static void Audience(AudienceDefinition a, bool someoneRequired)
    {
        var any = a.All || a.IncludeSegments is { Count: > 0 } || a.Users is { Count: > 0 } || a.Devices is { Count: > 0 } || a.Geofences is { Count: > 0 };
        if (!any && someoneRequired) throw ProblemException.BadRequest("The audience is empty: set all, includeSegments, geofences, users or devices.", "audience");
        if (a.Geofences is { Count: > MaxGeofences })
            throw ProblemException.BadRequest($"audience.geofences names {a.Geofences.Count} fences; at most {MaxGeofences} (use a group in a segment rule for more).", "audience.geofences", MaxGeofences);
        foreach (var (p, i) in (a.Platforms ?? []).Select((p, i) => (p, i)))
            if (p is not ("ios" or "android" or "web"))
                throw ProblemException.BadRequest($"audience.platforms[{i}] must be ios, android or web; got '{p}'.", $"audience.platforms[{i}]");
        if (a.Users is { Count: > 10_000 } || a.Devices is { Count: > 10_000 })
            throw ProblemException.BadRequest("At most 10,000 explicit users or devices; use a segment for more.", a.Users is { Count: > 10_000 } ? "audience.users" : "audience.devices", 10_000);
    }

    private static void Schedule(ScheduleDefinition s)
    {
        switch (s.Type)
        {
            case "now": break;
            case "at":
                if (s.At is null) throw ProblemException.BadRequest("schedule.at is required for a scheduled send.", "schedule.at");
                break;
            case "local":
                if (!DateOnly.TryParseExact(s.LocalDate, "yyyy-MM-dd", out _))
                    throw ProblemException.BadRequest("schedule.localDate must be yyyy-MM-dd.", "schedule.localDate");
                if (!TimeOnly.TryParseExact(s.LocalTime, "HH:mm", out _))
                    throw ProblemException.BadRequest("schedule.localTime must be HH:mm.", "schedule.localTime");
                break;
            default:
                throw ProblemException.BadRequest($"schedule.type must be now, at or local; got '{s.Type}'.", "schedule.type");
        }
    }

    /// <summary>Every text field that is a template, with its path and whether it is email HTML.</summary>
    public static IEnumerable<(string Field, string Source, bool Html)> TemplateFields(CampaignDefinition d)
    {
        var c = d.Content;
        IEnumerable<(string, string?, bool)> Of(string prefix, string? title, string? body, string? subject, string? html, string? text) =>
        [
            ($"{prefix}title", title, false), ($"{prefix}body", body, false), ($"{prefix}subject", subject, false),
            ($"{prefix}html", html, true), ($"{prefix}text", text, false),
        ];
        var all = Of("content.", c.Title, c.Body, c.Subject, c.Html, c.Text).Append(("content.url", c.Url, false))
            .Append(("content.imageUrl", c.ImageUrl, false)).Append(("content.catalogItem", c.CatalogItem, false));
        foreach (var (lang, l) in c.Locales ?? [])
            all = all.Concat(Of($"content.locales.{lang}.", l.Title, l.Body, l.Subject, l.Html, l.Text));
        foreach (var (k, v) in c.Data ?? [])
            all = all.Append(($"content.data.{k}", v, false));
        return all.Where(x => x.Item2 is not null).Select(x => (x.Item1, x.Item2!, x.Item3));
    }

    internal static void Templates(CampaignDefinition d)
    {
        foreach (var (field, source, html) in TemplateFields(d))
        {
            try { MessageTemplate.Compile(source, html); }
            catch (TemplateException e)
            {
                var p = ProblemException.Unprocessable($"{field} does not compile at line {e.Line}, column {e.Column}: {e.Message}", field);
                p.Extensions["line"] = e.Line;
                p.Extensions["column"] = e.Column;
                throw p;
            }
        }
    }

    private static void Require(string? v, string field)
    {
        if (string.IsNullOrWhiteSpace(v)) throw ProblemException.BadRequest($"{field} is required.", field);
    }
}
