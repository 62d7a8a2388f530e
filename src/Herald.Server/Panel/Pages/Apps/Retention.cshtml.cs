using Herald.Server.Accounts;
using Herald.Server.Analytics;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>Cohort × period retention grid through <see cref="AnalyticsService.RetentionAsync"/>.</summary>
public sealed class RetentionModel(AccountService accounts, AnalyticsService analytics) : PanelPage(accounts)
{
    public override string Section => "analytics";
    public IReadOnlyList<string> EventNames { get; private set; } = [];
    public string? CohortEvent { get; private set; }
    public string? ReturnEvent { get; private set; }
    public string Period { get; private set; } = "day";
    public int Periods { get; private set; } = 7;
    public string By { get; private set; } = "device";
    public RetentionResponse? Result { get; private set; }

    public async Task OnGetAsync(string? cohortEvent, string? returnEvent, string? period, int? periods, string? by, string? from, string? to)
    {
        var ct = HttpContext.RequestAborted;
        EventNames = await analytics.EventNamesAsync(AppId, ct);
        if (EventNames.Count == 0) return;
        CohortEvent = string.IsNullOrWhiteSpace(cohortEvent) ? EventNames[0] : cohortEvent;
        ReturnEvent = string.IsNullOrWhiteSpace(returnEvent) ? CohortEvent : returnEvent;
        Period = period ?? "day";
        Periods = periods ?? 7;
        By = by ?? "device";
        if (!await TryAsync(async () => Result = await analytics.RetentionAsync(AppId, CohortEvent, ReturnEvent,
                string.IsNullOrWhiteSpace(from) ? null : from, string.IsNullOrWhiteSpace(to) ? null : to, Period, Periods, By, ct)))
            Response.StatusCode = StatusCodes.Status400BadRequest;
    }

    /// <summary>The grid shown, as CSV: one row per cohort, the share returned in each period.</summary>
    [Needs(Permission.Export)]
    public async Task<IActionResult> OnGetCsvAsync(string? cohortEvent, string? returnEvent, string? period, int? periods, string? by, string? from, string? to)
    {
        await OnGetAsync(cohortEvent, returnEvent, period, periods, by, from, to);
        if (Result is not { } r) return Page();
        await AuditAsync("analytics.export", $"retention '{r.CohortEvent}' → '{r.ReturnEvent}' per {r.Period}");
        return PanelCsv.File("retention.csv", new[] { "cohort_start", "size" }.Concat(Enumerable.Range(0, r.Cohorts.Count == 0 ? 0 : r.Cohorts.Max(c => c.Rates.Count)).Select(i => $"{r.Period}_{i}")),
            r.Cohorts.Select(c => new object?[] { c.Start, c.Size }.Concat(c.Rates.Cast<object?>())));
    }
}
