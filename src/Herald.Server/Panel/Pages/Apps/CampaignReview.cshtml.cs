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
    public async Task<IActionResult> OnPostSendAsync(long id)
    {
        if (!await LoadAsync(id)) return NotFound();
        PlanSummary? plan = null;
        var ok = await TryAsync(async () =>
        {
            plan = await planner.PlanAsync(AppId, id, $"panel:{Me.Email}", HttpContext.RequestAborted);
            dispatch.Wake();
            await AuditAsync("campaign.send", $"campaign {id} '{Campaign.Name}': {plan.Targeted} targeted, {plan.Queued} queued");
        });
        if (ok) return Redirect($"/panel/apps/{AppId}/campaigns/{id}/report");
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }

    /// <summary>Approval by an approver, admin or owner who did not make the last change (the service enforces both).</summary>
    [Needs(Permission.ApproveCampaigns)]
    public async Task<IActionResult> OnPostApproveAsync(long id)
    {
        if (!await LoadAsync(id)) return NotFound();
        var ok = await TryAsync(async () =>
        {
            await approval.ApproveAsync(AppId, id, $"panel:{Me.Email}", HttpContext.RequestAborted);
            await AuditAsync("campaign.approve", $"campaign {id} '{Campaign.Name}'");
        });
        if (ok) return Redirect($"/panel/apps/{AppId}/campaigns/{id}/review");
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }

    /// <summary>A triggered or recurring campaign starts listening (draft → active) through the same service as <c>POST /api/v1/campaigns/{id}/activate</c>.</summary>
    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostActivateAsync(long id)
    {
        if (!await LoadAsync(id)) return NotFound();
        var ok = await TryAsync(async () =>
        {
            var c = await automation.ActivateAsync(AppId, id, $"panel:{Me.Email}", HttpContext.RequestAborted);
            automationWorker.Wake();
            await AuditAsync("campaign.activate", $"campaign {id} '{c.Name}': {CampaignWizardParts.Describe(c.Definition)}");
        });
        if (ok) return Redirect($"/panel/apps/{AppId}/campaigns/{id}/report");
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
