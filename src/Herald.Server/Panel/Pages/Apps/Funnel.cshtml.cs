using Herald.Server.Accounts;
using Herald.Server.Analytics;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>A funnel of 2–10 events through <see cref="AnalyticsService.FunnelAsync"/>, as horizontal bars with conversion.</summary>
public sealed class FunnelModel(AccountService accounts, AnalyticsService analytics) : PanelPage(accounts)
{
    public override string Section => "analytics";
    public IReadOnlyList<string> EventNames { get; private set; } = [];
    public IReadOnlyList<string> Steps { get; private set; } = [];
    public int WindowDays { get; private set; } = 7;
    public string Order { get; private set; } = "sequential";
    public string By { get; private set; } = "device";
    public string? From { get; private set; }
    public string? To { get; private set; }
    public FunnelResponse? Result { get; private set; }

    public async Task OnGetAsync(string[]? step, int? windowDays, string? order, string? by, string? from, string? to)
    {
        var ct = HttpContext.RequestAborted;
        EventNames = await analytics.EventNamesAsync(AppId, ct);
        Steps = (step ?? []).Where(s => !string.IsNullOrWhiteSpace(s)).Select(s => s.Trim()).ToList();
        WindowDays = windowDays ?? 7;
        Order = order ?? "sequential";
        By = by ?? "device";
        From = string.IsNullOrWhiteSpace(from) ? null : from;
        To = string.IsNullOrWhiteSpace(to) ? null : to;
        if (step is null) return; // first visit: the form only
        var request = new FunnelRequest(Steps.Select(s => new FunnelStepRequest(s)).ToList(), WindowDays * 86_400L, Order, null, By, From, To);
        if (!await TryAsync(async () => Result = AnalyticsService.Describe(await analytics.FunnelAsync(AppId, request, ct))))
            Response.StatusCode = StatusCodes.Status400BadRequest;
    }

    /// <summary>The funnel shown, as CSV: one row per step.</summary>
    [Needs(Permission.Export)]
    public async Task<IActionResult> OnGetCsvAsync(string[]? step, int? windowDays, string? order, string? by, string? from, string? to)
    {
        await OnGetAsync(step, windowDays, order, by, from, to);
        if (Result is not { } r) return Page();
        await AuditAsync("analytics.export", $"funnel {string.Join(" → ", r.Steps.Select(s => s.Event))} by {r.By}");
        return PanelCsv.File("funnel.csv", ["step", "event", "reached", "from_previous", "from_start", "dropped_after"],
            r.Steps.Select(s => new object?[] { s.Step, s.Event, s.Count, s.ConversionFromPrevious, s.ConversionFromStart, s.DroppedAfter }));
    }
}
