using Herald.Server.Accounts;
using Herald.Server.Exports;
using Herald.Server.Segments;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>
/// Exports (R-AN-5): download raw events as CSV, and the daily scheduled exports (yesterday's events
/// or a segment's members into a folder under the export root) with their last run — made, run now
/// and deleted through <see cref="ExportService"/> with the REST API's checks, and audited.
/// </summary>
public sealed class ExportsModel(AccountService accounts, ExportService exports, EventExport events, SegmentService segments) : PanelPage(accounts)
{
    public override string Section => "exports";
    public IReadOnlyList<ScheduledExportView> Scheduled { get; private set; } = [];
    public IReadOnlyList<SegmentView> Segments { get; private set; } = [];

    public async Task OnGetAsync()
    {
        Scheduled = await exports.ListAsync(AppId, HttpContext.RequestAborted);
        Segments = await segments.ListAsync(AppId, HttpContext.RequestAborted);
    }

    /// <summary>Raw events of local dates as CSV; a bad date or name comes back on the page.</summary>
    [Needs(Permission.Export)]
    public async Task<IActionResult> OnGetEventsAsync(string? from, string? to, string? names)
    {
        (long From, long To, IReadOnlyList<string> Names) range = default;
        if (!await TryAsync(async () => range = await exports.EventsRangeAsync(AppId, from, to, names, HttpContext.RequestAborted)))
        {
            await OnGetAsync();
            return Page();
        }
        await AuditAsync("export.events", $"{from}..{to ?? from}{(string.IsNullOrEmpty(names) ? "" : " " + names)}");
        Response.ContentType = "text/csv; charset=utf-8";
        Response.Headers.ContentDisposition = $"attachment; filename=\"events-{from}-{to ?? from}.csv\"";
        await events.WriteCsvAsync(AppId, range.From, range.To, range.Names ?? [], Response.Body, HttpContext.RequestAborted);
        return new EmptyResult();
    }

    [Needs(Permission.Export)]
    public async Task<IActionResult> OnPostCreateAsync(string? name, string? kind, long? segmentId, string? attributes, string? eventNames, string? folder, string? timeOfDay)
    {
        static List<string>? List(string? s) => s?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } l ? [.. l] : null;
        ScheduledExportView? made = null;
        if (await TryAsync(async () => made = await exports.CreateAsync(AppId, new ScheduledExportRequest
            {
                Name = name, Kind = kind, SegmentId = kind == "segment" ? segmentId : null, Attributes = kind == "segment" ? List(attributes) : null,
                Events = kind == "events" ? List(eventNames) : null, Folder = folder, TimeOfDay = timeOfDay,
            }, HttpContext.RequestAborted)))
        {
            await AuditAsync("export.schedule", $"{made!.Name} (#{made.Id}, {made.Kind} at {made.TimeOfDay})");
            Flash = $"“{made.Name}” is written every day at {made.TimeOfDay} ({made.Timezone}).";
        }
        await OnGetAsync();
        return Page();
    }

    [Needs(Permission.Export)]
    public async Task<IActionResult> OnPostRunAsync(long id)
    {
        ExportRun? run = null;
        if (await TryAsync(async () => run = await exports.RunNowAsync(AppId, id, HttpContext.RequestAborted)))
        {
            await AuditAsync("export.run", $"#{id}: {run!.Status}");
            if (run.Status == "ok") Flash = $"Written: {run.File} ({run.Rows:N0} rows).";
            else Error = $"The export failed: {run.Error}";
        }
        await OnGetAsync();
        return Page();
    }

    [Needs(Permission.Export)]
    public async Task<IActionResult> OnPostDeleteAsync(long id)
    {
        if (await TryAsync(() => exports.DeleteAsync(AppId, id, HttpContext.RequestAborted)))
        {
            await AuditAsync("export.delete", $"#{id}");
            Flash = "Scheduled export deleted (files already written stay).";
        }
        await OnGetAsync();
        return Page();
    }
}
