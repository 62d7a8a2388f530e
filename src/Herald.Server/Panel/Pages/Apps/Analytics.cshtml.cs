using Herald.Server.Accounts;
using Herald.Server.Analytics;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>Event trend: <see cref="AnalyticsService.SeriesAsync"/> drawn as a server-rendered SVG chart.</summary>
public sealed class AnalyticsModel(AccountService accounts, AnalyticsService analytics) : PanelPage(accounts)
{
    public override string Section => "analytics";
    public IReadOnlyList<string> EventNames { get; private set; } = [];
    public string? Event { get; private set; }
    public string Interval { get; private set; } = "day";
    public string Measure { get; private set; } = "count";
    public string? From { get; private set; }
    public string? To { get; private set; }
    public bool Bars { get; private set; }
    public EventSeries? Series { get; private set; }

    public async Task OnGetAsync(string? @event, string? interval, string? measure, string? from, string? to, string? chart)
    {
        var ct = HttpContext.RequestAborted;
        EventNames = await analytics.EventNamesAsync(AppId, ct);
        Event = string.IsNullOrWhiteSpace(@event) ? EventNames.FirstOrDefault() : @event.Trim();
        Interval = interval is "week" or "month" ? interval : "day";
        Measure = measure is "devices" or "users" ? measure : "count";
        From = string.IsNullOrWhiteSpace(from) ? null : from;
        To = string.IsNullOrWhiteSpace(to) ? null : to;
        Bars = chart == "bar";
        if (Event is null) return;
        if (!await TryAsync(async () => Series = await analytics.SeriesAsync(AppId, Event, From, To, Interval, null, 10, null, 14, ct)))
            Response.StatusCode = StatusCodes.Status400BadRequest;
    }

    /// <summary>The trend shown, as CSV: one row per day, week or month with all three measures.</summary>
    [Needs(Permission.Export)]
    public async Task<IActionResult> OnGetCsvAsync(string? @event, string? interval, string? measure, string? from, string? to, string? chart)
    {
        await OnGetAsync(@event, interval, measure, from, to, chart);
        if (Series is not { } s) return Page();
        await AuditAsync("analytics.export", $"trend of '{s.Event}' per {s.Interval}, {s.From} – {s.To}");
        return PanelCsv.File($"trend-{s.From}-{s.To}.csv", [$"{s.Interval}_start", "events", "unique_devices", "unique_users", "revenue"],
            s.Buckets.Select(b => new object?[] { b.Start, b.Count, b.UniqueDevices, b.UniqueUsers, b.Revenue }));
    }

    public long Value(SeriesBucket b) => Measure switch { "devices" => b.UniqueDevices, "users" => b.UniqueUsers, _ => b.Count };

    public string MeasureLabel => Measure switch { "devices" => "unique devices", "users" => "unique users", _ => "events" };
}
