using Herald.Server.Accounts;
using Herald.Server.Campaigns;
using Herald.Server.Segments;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>Step 4: summary, reachable audience size (<see cref="CampaignPlanner"/>), a device preview for a chosen user (<see cref="CampaignService.PreviewAsync(long, long, PreviewRequest, CancellationToken)"/>), send.</summary>
public sealed class CampaignReviewModel(AccountService accounts, CampaignService campaigns, CampaignPlanner planner, SegmentService segments, DispatchWorker dispatch,
    Automation.AutomationService automation, Automation.AutomationWorker automationWorker, CampaignApproval approval, Herald.Server.Apps.AppService apps) : PanelPage(accounts)
{
    public override string Section => "campaigns";
    public CampaignView Campaign { get; private set; } = null!;
    public int? AudienceSize { get; private set; }
    public string? PreviewFor { get; private set; }
    public PreviewView? Preview { get; private set; }
    public IReadOnlyDictionary<long, string> SegmentNames { get; private set; } = new Dictionary<long, string>();
    /// <summary>The app requires an approval before a campaign goes out (R-PANEL-2).</summary>
    public bool RequiresApproval { get; private set; }
    /// <summary>Nothing stands in the way of Send / Activate: no approval needed, or it is given.</summary>
    public bool Cleared => !RequiresApproval || Campaign.Approval is not null;

    public async Task<IActionResult> OnGetAsync(long id, string? previewFor)
    {
        if (!await LoadAsync(id)) return NotFound();
        PreviewFor = string.IsNullOrWhiteSpace(previewFor) ? null : previewFor.Trim();
        if (PreviewFor is not null)
        {
            if (!await TryAsync(async () => Preview = await campaigns.PreviewAsync(AppId, id, CampaignEditModel.Recipient(PreviewFor), HttpContext.RequestAborted)))
                Response.StatusCode = StatusCodes.Status400BadRequest;
        }
        return Page();
    }

    [Needs(Permission.EditCampaigns)]
    public Task<IActionResult> OnPostSendAsync(long id) => ActAsync(id, "report", async c =>
    {
        var plan = await planner.PlanAsync(AppId, id, $"panel:{Me.Email}", HttpContext.RequestAborted);
        dispatch.Wake();
        await AuditAsync("campaign.send", $"campaign {id} '{c.Name}': {plan.Targeted} targeted, {plan.Queued} queued");
    });

    /// <summary>Approval by an approver, admin or owner who did not make the last change (the service enforces both).</summary>
    [Needs(Permission.ApproveCampaigns)]
    public Task<IActionResult> OnPostApproveAsync(long id) => ActAsync(id, "review", async c =>
    {
        await approval.ApproveAsync(AppId, id, $"panel:{Me.Email}", HttpContext.RequestAborted);
        await AuditAsync("campaign.approve", $"campaign {id} '{c.Name}'");
    });

    /// <summary>A triggered or recurring campaign starts listening (draft → active) through the same service as <c>POST /api/v1/campaigns/{id}/activate</c>.</summary>
    [Needs(Permission.EditCampaigns)]
    public Task<IActionResult> OnPostActivateAsync(long id) => ActAsync(id, "report", async _ =>
    {
        var c = await automation.ActivateAsync(AppId, id, $"panel:{Me.Email}", HttpContext.RequestAborted);
        automationWorker.Wake();
        await AuditAsync("campaign.activate", $"campaign {id} '{c.Name}': {CampaignWizardParts.Describe(c.Definition)}");
    });

    /// <summary>
    /// One of the review page's actions: done, it goes on to the campaign's <paramref name="then"/> page;
    /// refused by the service, the page is shown again (400) with the reason. The page's own data (audience
    /// size, segments) is read only when the page is shown.
    /// </summary>
    private async Task<IActionResult> ActAsync(long id, string then, Func<CampaignView, Task> action)
    {
        var c = await campaigns.GetAsync(AppId, id, HttpContext.RequestAborted, withHistory: false);
        if (c is null) return NotFound();
        if (await TryAsync(() => action(c))) return Redirect($"/panel/apps/{AppId}/campaigns/{id}/{then}");
        var refused = Error;
        await LoadAsync(id);
        Error = refused;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }

    private async Task<bool> LoadAsync(long id)
    {
        var ct = HttpContext.RequestAborted;
        var c = await campaigns.GetAsync(AppId, id, ct);
        if (c is null) return false;
        Campaign = c;
        RequiresApproval = (await apps.GetAsync(AppId, ct))?.Limits.RequireApproval == true;
        SegmentNames = (await segments.ListAsync(AppId, ct)).ToDictionary(s => s.Id, s => s.Name);
        await TryAsync(async () => AudienceSize = await planner.AudienceSizeAsync(AppId, c.Definition, ct));
        return true;
    }
}
