using Herald.Server.Accounts;
using Herald.Server.Analytics;
using Herald.Server.Segments;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

public sealed class SegmentsModel(AccountService accounts, SegmentService segments, MemberDirectory directory) : PanelPage(accounts)
{
    public override string Section => "segments";
    public IReadOnlyList<SegmentView> Segments { get; private set; } = [];

    public async Task OnGetAsync() => Segments = await segments.ListAsync(AppId, HttpContext.RequestAborted);

    /// <summary>The same CSV as the REST export: members with their email and name.</summary>
    [Needs(Permission.Export)]
    public async Task<IActionResult> OnGetExportAsync(long id)
    {
        await segments.GetRowExistsAsync(AppId, id, HttpContext.RequestAborted); // 404 for another app's id
        var members = await segments.MembersAsync(AppId, id, HttpContext.RequestAborted);
        await AuditAsync("segment.export", $"segment {id}");
        Response.ContentType = "text/csv; charset=utf-8";
        Response.Headers.ContentDisposition = $"attachment; filename=\"segment-{id}.csv\"";
        await directory.WriteDevicesCsvAsync(AppId, members, AnalyticsEndpoints.ParseAttributes("email,first_name,last_name"), Response.Body, HttpContext.RequestAborted);
        return new EmptyResult();
    }
}
