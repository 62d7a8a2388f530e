using Herald.Server.Accounts;
using Herald.Server.Campaigns;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>Live report from the ledger (<see cref="CampaignReports"/>), polled as JSON; Stop and Recall with a reason.</summary>
public sealed class CampaignReportModel(AccountService accounts, CampaignService campaigns, CampaignReports reports, CampaignRecall recall, IOptions<DispatchOptions> dispatch,
    Automation.AutomationService automation) : PanelPage(accounts)
{
    public override string Section => "campaigns";
    public CampaignView Campaign { get; private set; } = null!;
    public CampaignReport Report { get; private set; } = null!;
    /// <summary>A triggered or recurring campaign's triggers and runs (the same view as <c>GET /api/v1/campaigns/{id}/automation</c>).</summary>
    public Automation.AutomationView? Automation { get; private set; }

    public async Task<IActionResult> OnGetAsync(long id) => await LoadAsync(id) ? Page() : NotFound();

    /// <summary>The same report as <c>GET /api/v1/campaigns/{id}/report</c>, for the page's polling script.</summary>
    public async Task<IActionResult> OnGetJsonAsync(long id)
    {
        if (await campaigns.GetAsync(AppId, id, HttpContext.RequestAborted) is null) return NotFound();
        return new JsonResult(await reports.ReportAsync(AppId, id, HttpContext.RequestAborted));
    }

    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostStopAsync(long id, string? reason)
    {
        if (!await LoadAsync(id)) return NotFound();
        if (string.IsNullOrWhiteSpace(reason)) Error = "Give a reason for stopping.";
        else if (await TryAsync(async () =>
        {
            Report = await reports.StopAsync(AppId, id, $"panel:{Me.Email}", reason.Trim(), dispatch.Value.Lease, HttpContext.RequestAborted);
            await AuditAsync("campaign.stop", $"campaign {id}: {reason.Trim()}");
        }))
            Flash = "Stopped: nothing more of this campaign will be sent.";
        return await DoneAsync(id);
    }

    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostRecallAsync(long id, string? reason)
    {
        if (!await LoadAsync(id)) return NotFound();
        if (string.IsNullOrWhiteSpace(reason)) Error = "Give a reason for the recall.";
        else if (await TryAsync(async () =>
        {
            var r = await recall.RecallAsync(AppId, id, $"panel:{Me.Email}", reason.Trim(), HttpContext.RequestAborted);
            await AuditAsync("campaign.recall", $"campaign {id}: {reason.Trim()} ({r.Sent} of {r.Requested} recall pushes sent)");
            Flash = $"{r.Note} ({r.Sent} of {r.Requested} devices, {r.Failed} failed)";
        })) { }
        return await DoneAsync(id);
    }

    private async Task<IActionResult> DoneAsync(long id)
    {
        if (Error is not null) Response.StatusCode = StatusCodes.Status400BadRequest;
        await LoadAsync(id);
        return Page();
    }

    private async Task<bool> LoadAsync(long id)
    {
        var c = await campaigns.GetAsync(AppId, id, HttpContext.RequestAborted);
        if (c is null) return false;
        Campaign = c;
        Report = await reports.ReportAsync(AppId, id, HttpContext.RequestAborted);
        Automation = c.Definition.Trigger is not null || c.Definition.Recurrence is not null
            ? await automation.ViewAsync(AppId, id, 50, HttpContext.RequestAborted) : null;
        return true;
    }
}
