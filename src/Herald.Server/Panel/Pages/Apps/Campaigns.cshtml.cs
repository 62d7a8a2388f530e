using Herald.Server.Accounts;
using Herald.Server.Campaigns;

namespace Herald.Server.Panel.Pages.Apps;

public sealed class CampaignsModel(AccountService accounts, CampaignService campaigns) : PanelPage(accounts)
{
    public override string Section => "campaigns";
    public IReadOnlyList<CampaignView> Campaigns { get; private set; } = [];

    public async Task OnGetAsync() => Campaigns = await campaigns.ListAsync(AppId, null, 200, HttpContext.RequestAborted);

    public static string Link(long appId, CampaignView c) =>
        c.State is CampaignStates.Draft ? $"/panel/apps/{appId}/campaigns/edit/{c.Id}" : $"/panel/apps/{appId}/campaigns/{c.Id}/report";
}
