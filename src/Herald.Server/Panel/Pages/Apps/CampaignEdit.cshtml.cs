using System.Globalization;
using Herald.Server.Accounts;
using Herald.Server.Campaigns;
using Herald.Server.Infrastructure;
using Herald.Server.Segments;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>
/// Wizard steps What → Who → When: saves a draft through <see cref="CampaignService"/>, then Review.
/// While the marketer types, <c>?handler=preview</c> renders the unsaved form for a chosen user
/// (<see cref="CampaignService.PreviewAsync(long, CampaignDefinition, PreviewRequest, CancellationToken)"/>)
/// and counts its audience (<see cref="CampaignPlanner.AudienceSizeAsync"/>).
/// </summary>
public sealed class CampaignEditModel(AccountService accounts, CampaignService campaigns, CampaignPlanner planner, SegmentService segments,
    Geofences.GeofenceService geofences) : PanelPage(accounts)
{
    public override string Section => "campaigns";
    public long? Id { get; private set; }
    public CampaignDefinition D { get; private set; } = new() { Channel = "push" };
    public IReadOnlyList<SegmentView> Segments { get; private set; } = [];
    public IReadOnlyList<Geofences.GeofenceView> Fences { get; private set; } = [];
    public int? AudienceSize { get; private set; }

    public async Task<IActionResult> OnGetAsync(long? id)
    {
        if (id is { } i)
        {
            var c = await campaigns.GetAsync(AppId, i, HttpContext.RequestAborted);
            if (c is null) return NotFound();
            if (c.State != CampaignStates.Draft) return Redirect($"/panel/apps/{AppId}/campaigns/{i}/report");
            (Id, D) = (i, c.Definition);
            await TryAsync(async () => AudienceSize = await planner.AudienceSizeAsync(AppId, D, HttpContext.RequestAborted));
            Error = null; // a segment deleted since: the Who step shows it, the size stays blank
        }
        await ListsAsync();
        return Page();
    }

    private async Task ListsAsync()
    {
        Segments = await segments.ListAsync(AppId, HttpContext.RequestAborted);
        Fences = await geofences.ListAsync(AppId, null, HttpContext.RequestAborted);
    }

    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostAsync(long? id)
    {
        Id = id;
        var ok = await TryAsync(async () =>
        {
            D = Read(strict: true);
            var actor = $"panel:{Me.Email}";
            var saved = id is { } i
                ? await campaigns.UpdateAsync(AppId, i, D, actor, HttpContext.RequestAborted)
                : await campaigns.CreateAsync(AppId, D, actor, HttpContext.RequestAborted);
            Id = saved.Id;
            await AuditAsync(id is null ? "campaign.create" : "campaign.update", $"campaign {saved.Id} '{saved.Name}' ({saved.Channel})");
        });
        if (ok) return Redirect($"/panel/apps/{AppId}/campaigns/{Id}/review");
        await ListsAsync();
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }

    /// <summary>
    /// The live preview of the form as it is now (not saved): the reachable audience size and, when
    /// <c>previewFor</c> names a user or device, their message rendered exactly as it would be sent.
    /// Reading only, so viewers may use it too; the anti-forgery token and session still apply.
    /// </summary>
    [Needs(Permission.View)]
    public async Task<IActionResult> OnPostPreviewAsync()
    {
        var ct = HttpContext.RequestAborted;
        int? size = null;
        string? audienceError = null, previewError = null;
        CampaignDefinition d;
        try { d = Read(strict: false); }
        catch (ProblemException p) { return new JsonResult(new { audience = size, audienceError = p.Message, previewFor = (string?)null, preview = (PreviewView?)null, previewError = p.Message }); }
        PreviewView? preview = null;
        var who = Request.Form["previewFor"].ToString().Trim();
        if (d.Audience is { All: false, IncludeSegments: null, Users: null, Geofences: null }) size = 0;
        else if (!await TryAsync(async () => size = await planner.AudienceSizeAsync(AppId, d, ct))) audienceError = Error;
        Error = null;
        if (who.Length > 0 && !await TryAsync(async () => preview = await campaigns.PreviewAsync(AppId, d, Recipient(who), ct)))
            previewError = Error;
        Error = null;
        return new JsonResult(new { audience = size, audienceError, previewFor = who.Length > 0 ? who : null, preview, previewError });
    }

    /// <summary>A preview recipient typed by the marketer: an installation id (a GUID) or else an external id.</summary>
    internal static PreviewRequest Recipient(string who) =>
        who.Length > 20 && Guid.TryParse(who, out _) ? new PreviewRequest(InstallationId: who) : new PreviewRequest(ExternalId: who);

    /// <summary>The campaign the form describes. <paramref name="strict"/>: a bad date is an error rather than ignored.</summary>
    private CampaignDefinition Read(bool strict)
    {
        var f = Request.Form;
        string? F(string k) => string.IsNullOrWhiteSpace(f[k]) ? null : f[k].ToString().Trim();
        List<string>? Lines(string k) => F(k)?.Split(['\n', ',', ' ', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        List<long>? Ids(string k) => f[k].Select(s => long.TryParse(s, CultureInfo.InvariantCulture, out var v) ? v : (long?)null).OfType<long>().ToList() is { Count: > 0 } l ? l : null;
        int? Int(string k, string field) => F(k) is not { } v ? null
            : int.TryParse(v, CultureInfo.InvariantCulture, out var n) && n >= 0 ? n
            : throw ProblemException.BadRequest($"{field} must be a whole number of 0 or more; got '{v}'.", field);
        var audience = F("audience") ?? "all";
        var schedule = F("schedule") ?? "now";
        DateTimeOffset? at = null;
        if (schedule == "at")
        {
            if (DateTime.TryParse(F("at"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var when))
                at = new DateTimeOffset(when, TimeSpan.Zero);
            else if (strict) throw ProblemException.BadRequest("Choose the date and time to send at (UTC).", "schedule.at");
        }
        var exclude = Ids("exclude");
        var channel = F("channel");
        var kept = CampaignWizardParts.KeptFrom(f);
        return new CampaignDefinition
        {
            Name = F("name") ?? "",
            Channel = channel ?? "",
            Content = new ContentDefinition
            {
                Title = F("title"), Body = F("body"), Url = F("url"), ImageUrl = F("imageUrl"), CatalogItem = F("catalogItem"),
                Subject = F("subject"), Html = F("html"), Text = F("text"),
                Locales = Locales(f),
                Buttons = channel is CampaignChannels.Push or CampaignChannels.WebPush ? CampaignWizardParts.Buttons(f) : null,
                Data = channel is CampaignChannels.Push or CampaignChannels.WebPush ? CampaignWizardParts.Data(f) : null,
                Sound = kept?.Sound, Badge = kept?.Badge, TtlSeconds = kept?.TtlSeconds, CollapseKey = kept?.CollapseKey,
            },
            Audience = (audience switch
            {
                "segments" => new AudienceDefinition { IncludeSegments = Ids("segments"), ExcludeSegments = exclude },
                "geofences" => new AudienceDefinition { Geofences = Ids("geofences"), ExcludeSegments = exclude },
                "users" => new AudienceDefinition { Users = Lines("users"), ExcludeSegments = exclude },
                "devices" => new AudienceDefinition { Devices = kept?.Devices, ExcludeSegments = exclude },
                _ => new AudienceDefinition { All = true, ExcludeSegments = exclude },
            }) with { Platforms = kept?.Platforms },
            Schedule = new ScheduleDefinition { Type = schedule is "trigger" or "recurring" ? "now" : schedule, At = at, LocalDate = schedule == "local" ? F("localDate") : null, LocalTime = schedule == "local" ? F("localTime") : null },
            Limits = new LimitsDefinition
            {
                MaxPerUserPerDay = Int("maxPerDay", "limits.maxPerUserPerDay"),
                MaxPerUserPerWeek = Int("maxPerWeek", "limits.maxPerUserPerWeek"),
                MaxRecipients = Int("maxRecipients", "limits.maxRecipients"),
                IgnoreAppLimits = f["ignoreAppLimits"] == "true",
            },
            MissingValues = F("missingValues") ?? "default",
            Urgent = f["urgent"] == "true",
            AbTest = CampaignWizardParts.AbTest(f),
            Fallback = CampaignWizardParts.Fallback(f, channel),
            Trigger = schedule == "trigger" ? CampaignWizardParts.Trigger(f) : null,
            Recurrence = schedule == "recurring" ? CampaignWizardParts.Recurrence(f) : null,
        };
    }

    /// <summary>
    /// Language variants: rows of <c>localeCode</c> with their texts. Fields of other channels are
    /// disabled in the browser and not posted, so each list is either as long as the codes or empty.
    /// </summary>
    private static Dictionary<string, LocalizedContent>? Locales(IFormCollection f)
    {
        var codes = f["localeCode"];
        string? At(string k, int i) => f[k].Count > i && !string.IsNullOrWhiteSpace(f[k][i]) ? f[k][i]!.Trim() : null;
        var result = new Dictionary<string, LocalizedContent>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < codes.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(codes[i])) continue;
            var l = new LocalizedContent
            {
                Title = At("localeTitle", i), Body = At("localeBody", i), Subject = At("localeSubject", i), Html = At("localeHtml", i), Text = At("localeText", i),
            };
            if (l != new LocalizedContent()) result[codes[i]!.Trim()] = l;
        }
        return result.Count > 0 ? result : null;
    }
}
