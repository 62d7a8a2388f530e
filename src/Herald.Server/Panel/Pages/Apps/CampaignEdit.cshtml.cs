using System.Globalization;
using Herald.Server.Accounts;
using Herald.Server.Campaigns;
using Herald.Server.Infrastructure;
using Herald.Server.Segments;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>Wizard steps What → Who → When: saves a draft through <see cref="CampaignService"/>, then Review.</summary>
public sealed class CampaignEditModel(AccountService accounts, CampaignService campaigns, SegmentService segments) : PanelPage(accounts)
{
    public override string Section => "campaigns";
    public long? Id { get; private set; }
    public CampaignDefinition D { get; private set; } = new() { Channel = "push" };
    public IReadOnlyList<SegmentView> Segments { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(long? id)
    {
        if (id is { } i)
        {
            var c = await campaigns.GetAsync(AppId, i, HttpContext.RequestAborted);
            if (c is null) return NotFound();
            if (c.State != CampaignStates.Draft) return Redirect($"/panel/apps/{AppId}/campaigns/{i}/report");
            (Id, D) = (i, c.Definition);
        }
        Segments = await segments.ListAsync(AppId, HttpContext.RequestAborted);
        return Page();
    }

    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostAsync(long? id)
    {
        var f = Request.Form;
        string? F(string k) => string.IsNullOrWhiteSpace(f[k]) ? null : f[k].ToString().Trim();
        List<string>? Lines(string k) => F(k)?.Split(['\n', ',', ' ', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var audience = F("audience") ?? "all";
        var schedule = F("schedule") ?? "now";
        Id = id;
        var ok = await TryAsync(async () =>
        {
            DateTimeOffset? at = null;
            if (schedule == "at")
            {
                if (!DateTime.TryParse(F("at"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var when))
                    throw ProblemException.BadRequest("Choose the date and time to send at (UTC).", "schedule.at");
                at = new DateTimeOffset(when, TimeSpan.Zero);
            }
            D = new CampaignDefinition
            {
                Name = F("name") ?? "",
                Channel = F("channel") ?? "",
                Content = new ContentDefinition
                {
                    Title = F("title"), Body = F("body"), Url = F("url"), ImageUrl = F("imageUrl"),
                    Subject = F("subject"), Html = F("html"), Text = F("text"),
                },
                Audience = audience switch
                {
                    "segments" => new AudienceDefinition { IncludeSegments = f["segments"].Select(s => long.Parse(s!, CultureInfo.InvariantCulture)).ToList() },
                    "users" => new AudienceDefinition { Users = Lines("users") },
                    _ => new AudienceDefinition { All = true },
                },
                Schedule = new ScheduleDefinition { Type = schedule, At = at, LocalDate = schedule == "local" ? F("localDate") : null, LocalTime = schedule == "local" ? F("localTime") : null },
                Urgent = f["urgent"] == "true",
            };
            var actor = $"panel:{Me.Email}";
            var saved = id is { } i
                ? await campaigns.UpdateAsync(AppId, i, D, actor, HttpContext.RequestAborted)
                : await campaigns.CreateAsync(AppId, D, actor, HttpContext.RequestAborted);
            Id = saved.Id;
            await AuditAsync(id is null ? "campaign.create" : "campaign.update", $"campaign {saved.Id} '{saved.Name}' ({saved.Channel})");
        });
        if (ok) return Redirect($"/panel/apps/{AppId}/campaigns/{Id}/review");
        Segments = await segments.ListAsync(AppId, HttpContext.RequestAborted);
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }
}
