using Herald.Server.Accounts;
using Herald.Server.Analytics;

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

    public long Value(SeriesBucket b) => Measure switch { "devices" => b.UniqueDevices, "users" => b.UniqueUsers, _ => b.Count };

    public string MeasureLabel => Measure switch { "devices" => "unique devices", "users" => "unique users", _ => "events" };
}
