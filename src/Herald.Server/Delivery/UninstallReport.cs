using Dapper;
using Herald.Server.Analytics;
using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Delivery;

public sealed record UninstallDay(string Date, int Uninstalls, int Reinstalls);

/// <summary>Uninstalls and re-installs per day in the app's timezone; stale Android tokens as of now.</summary>
public sealed record UninstallSeries(string From, string To, string Timezone, int Uninstalls, int Reinstalls, int StaleAndroidTokens, IReadOnlyList<UninstallDay> Days);

/// <summary>
/// Per-day uninstall analytics (R-DLV-2), counted from the devices themselves: an uninstalled
/// installation keeps its <c>uninstalled_at</c> (a re-install is a new installation with
/// <c>reinstalled_at</c>), so counts for past days never change when a device comes back.
/// </summary>
public sealed class UninstallReport(Db db, AppService apps, DeliveryFeedback feedback, TimeProvider clock)
{
    public const int MaxDays = 366;

    public async Task<UninstallSeries> SeriesAsync(long appId, string? from, string? to, CancellationToken ct)
    {
        var app = await apps.GetAsync(appId, ct) ?? throw ProblemException.NotFound("App");
        var days = LocalDays.For(app.Timezone);
        var today = LocalDays.DateOf(days.Today(clock));
        var last = to is null ? today : LocalDays.ParseDate(to, "to");
        var first = from is null ? last.AddDays(-29) : LocalDays.ParseDate(from, "from");
        if (first > last) throw ProblemException.BadRequest($"from ({first:yyyy-MM-dd}) is after to ({last:yyyy-MM-dd}).", "from");
        if (last.DayNumber - first.DayNumber + 1 > MaxDays)
            throw ProblemException.BadRequest($"At most {MaxDays} days per request; asked for {last.DayNumber - first.DayNumber + 1}.", "to", MaxDays);
        var firstDay = LocalDays.DayOf(first);
        var lastDay = LocalDays.DayOf(last);
        var start = days.StartOf(firstDay);
        var end = days.StartOf(lastDay + 1);

        await using var conn = await db.OpenAsync(ct);
        var uninstalls = await conn.QueryAsync<long>(
            "SELECT uninstalled_at FROM devices WHERE app_id = @appId AND uninstalled_at >= @start AND uninstalled_at < @end", new { appId, start, end });
        var reinstalls = await conn.QueryAsync<long>(
            "SELECT reinstalled_at FROM devices WHERE app_id = @appId AND reinstalled_at >= @start AND reinstalled_at < @end", new { appId, start, end });
        var stale = await conn.ExecuteScalarAsync<long>(
            $"SELECT count(*) FROM devices d WHERE d.app_id = @appId AND d.uninstalled_at IS NULL AND d.push_token IS NOT NULL AND NOT {DeliveryFeedback.NotStaleSql}",
            new { appId, staleBefore = feedback.StaleBefore });

        var u = uninstalls.GroupBy(days.DayOf).ToDictionary(g => g.Key, g => g.Count());
        var r = reinstalls.GroupBy(days.DayOf).ToDictionary(g => g.Key, g => g.Count());
        var series = Enumerable.Range(firstDay, lastDay - firstDay + 1)
            .Select(d => new UninstallDay(LocalDays.DateOf(d).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), u.GetValueOrDefault(d), r.GetValueOrDefault(d)))
            .ToList();
        return new UninstallSeries(first.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), last.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            app.Timezone, series.Sum(s => s.Uninstalls), series.Sum(s => s.Reinstalls), (int)stale, series);
    }
}
