using System.Globalization;
using System.Text.Json;
using Herald.Domain.Analytics;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Analytics;

/// <summary>Event series, funnels and retention over the rollups and event indexes.</summary>
public sealed class AnalyticsService(Db db, RollupStore rollups, EventIndexes indexes, TimeProvider clock)
{
    public const int MaxRangeDays = 3660;
    public const long MaxWindowSeconds = 366L * 86_400;

    public async Task<EventSeries> SeriesAsync(long appId, string name, string? from, string? to, string? interval,
        string? breakdown, int top, string? estimate, int precision, CancellationToken ct)
    {
        var days = await rollups.EnsureCurrentAsync(appId, ct);
        var (first, last) = Range(days, from, to, 29);
        interval ??= "day";
        if (interval is not ("day" or "week" or "month"))
            throw ProblemException.BadRequest($"interval must be day, week or month; got '{interval}'.", "interval");
        if (estimate is not (null or "exact" or "hll"))
            throw ProblemException.BadRequest($"estimate must be exact or hll; got '{estimate}'.", "estimate");
        if (precision is < HyperLogLog.MinPrecision or > HyperLogLog.MaxPrecision)
            throw ProblemException.BadRequest($"precision must be {HyperLogLog.MinPrecision} to {HyperLogLog.MaxPrecision}; got {precision}.", "precision", HyperLogLog.MaxPrecision);
        if (top is < 1 or > 100)
            throw ProblemException.BadRequest($"top must be 1 to 100; got {top}.", "top", 100);
        await RequireKnownAsync(appId, name, "event", ct);

        var rows = await rollups.RangeAsync(appId, name, first, last, ct);
        var hll = estimate == "hll";
        var buckets = new List<SeriesBucket>();
        foreach (var (start, end) in Buckets(first, last, interval))
        {
            var inBucket = rows.Where(r => r.Day >= start && r.Day <= end).ToList();
            buckets.Add(Aggregate(LocalDays.DateOf(start), inBucket, hll, precision));
        }
        var total = Aggregate(LocalDays.DateOf(first), rows, hll, precision);
        IReadOnlyList<BreakdownRow>? rowsBy = breakdown is null ? null
            : await BreakdownAsync(appId, name, breakdown, top, days.StartOf(first), days.StartOf(last + 1), ct);
        return new EventSeries(name, days.Zone.Id, interval, Date(first), Date(last), !hll,
            hll ? new HyperLogLog(precision).StandardError : null, buckets, total, breakdown, rowsBy);
    }

    private static SeriesBucket Aggregate(DateOnly start, IReadOnlyList<DayRollup> rows, bool hll, int precision)
    {
        long devices, users;
        if (hll)
        {
            var d = new HyperLogLog(precision);
            var u = new HyperLogLog(precision);
            foreach (var r in rows)
            {
                d.Merge(r.Sketch(false, precision));
                u.Merge(r.Sketch(true, precision));
            }
            (devices, users) = (d.Count(), u.Count());
        }
        else
        {
            devices = rows.Count == 0 ? 0 : RoaringBitmap.OrMany(rows.Select(r => r.Devices)).Cardinality;
            users = rows.Count == 0 ? 0 : RoaringBitmap.OrMany(rows.Select(r => r.Users)).Cardinality;
        }
        return new SeriesBucket(start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), rows.Sum(r => r.Count), devices, users, Math.Round(rows.Sum(r => r.Revenue), 6));
    }

    private async Task<IReadOnlyList<BreakdownRow>> BreakdownAsync(long appId, string name, string attribute, int top, long fromMs, long toMs, CancellationToken ct)
    {
        var groups = new Dictionary<string, (long Count, List<uint> Devices, List<uint> Users)>();
        const string none = "\u0000none";
        await using (var conn = await db.OpenAsync(ct))
        await using (var cmd = conn.CreateCommand())
        {
            cmd.CommandText = "SELECT device_ordinal, user_ordinal, properties FROM events WHERE app_id = @app AND name = @name AND occurred_at >= @from AND occurred_at < @to";
            foreach (var (n, v) in new (string, object)[] { ("@app", appId), ("@name", name), ("@from", fromMs), ("@to", toMs) })
            {
                var p = cmd.CreateParameter(); p.ParameterName = n; p.Value = v; cmd.Parameters.Add(p);
            }
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                using var doc = JsonDocument.Parse(r.GetString(2));
                var key = doc.RootElement.TryGetProperty(attribute, out var v) ? v.ValueKind switch
                {
                    JsonValueKind.String => v.GetString()!,
                    JsonValueKind.Null => none,
                    _ => v.GetRawText(),
                } : none;
                if (!groups.TryGetValue(key, out var g)) g = (0, [], []);
                if (!r.IsDBNull(0)) g.Devices.Add((uint)r.GetInt32(0));
                if (!r.IsDBNull(1)) g.Users.Add((uint)r.GetInt32(1));
                groups[key] = g with { Count = g.Count + 1 };
            }
        }
        var ordered = groups.OrderByDescending(g => g.Value.Count).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
        var result = ordered.Take(top).Select(g => new BreakdownRow(g.Key == none ? null : g.Key, false, g.Value.Count,
            RoaringBitmap.FromValues(g.Value.Devices.ToArray()).Cardinality, RoaringBitmap.FromValues(g.Value.Users.ToArray()).Cardinality)).ToList();
        var rest = ordered.Skip(top).ToList();
        if (rest.Count > 0)
            result.Add(new BreakdownRow(null, true, rest.Sum(g => g.Value.Count),
                RoaringBitmap.FromValues(rest.SelectMany(g => g.Value.Devices).ToArray()).Cardinality,
                RoaringBitmap.FromValues(rest.SelectMany(g => g.Value.Users).ToArray()).Cardinality));
        return result;
    }

    public sealed record FunnelPlan(FunnelRequest Request, FunnelResult Result, bool ByUser, FunnelOrder Order, long WindowSeconds);

    public async Task<FunnelPlan> FunnelAsync(long appId, FunnelRequest request, CancellationToken ct)
    {
        var days = await rollups.EnsureCurrentAsync(appId, ct);
        if (request.Steps is null || request.Steps.Count is < FunnelEngine.MinSteps or > FunnelEngine.MaxSteps)
            throw ProblemException.BadRequest($"A funnel has {FunnelEngine.MinSteps} to {FunnelEngine.MaxSteps} steps; got {request.Steps?.Count ?? 0}.", "steps", FunnelEngine.MaxSteps);
        var window = request.WindowSeconds ?? 7 * 86_400;
        if (window is < 1 or > MaxWindowSeconds)
            throw ProblemException.BadRequest($"windowSeconds must be 1 to {MaxWindowSeconds} (366 days); got {window}.", "windowSeconds", MaxWindowSeconds);
        var order = request.Order switch
        {
            null or "sequential" => FunnelOrder.Sequential,
            "strict" => FunnelOrder.Strict,
            "any" => FunnelOrder.AnyOrder,
            _ => throw ProblemException.BadRequest($"order must be sequential, strict or any; got '{request.Order}'.", "order"),
        };
        var byUser = request.By switch
        {
            null or "device" => false,
            "user" => true,
            _ => throw ProblemException.BadRequest($"by must be device or user; got '{request.By}'.", "by"),
        };
        (long From, long To)? range = null;
        if (request.From is not null || request.To is not null)
        {
            var (f, l) = Range(days, request.From, request.To, 29);
            range = (days.StartOf(f), days.StartOf(l + 1));
        }
        var steps = new List<EventIndex>();
        for (var i = 0; i < request.Steps.Count; i++)
            steps.Add(await StepIndexAsync(appId, request.Steps[i], $"steps[{i}]", byUser, range, ct));
        var exclusion = request.Exclude is null ? null : await StepIndexAsync(appId, request.Exclude, "exclude", byUser, range, ct);
        var result = FunnelEngine.Compute(steps, window * 1000, order, exclusion, degreeOfParallelism: Math.Min(Environment.ProcessorCount, 4));
        return new FunnelPlan(request, result, byUser, order, window);
    }

    public static FunnelResponse Describe(FunnelPlan plan)
    {
        var r = plan.Result;
        var steps = new List<FunnelStepResult>();
        for (var k = 0; k < r.StepCount; k++)
        {
            var count = r.ReachedCounts[k];
            steps.Add(new FunnelStepResult(k + 1, plan.Request.Steps![k].Event!, count,
                k == 0 ? (count > 0 ? 1 : 0) : Rate(count, r.ReachedCounts[k - 1]), Rate(count, r.ReachedCounts[0]),
                k == r.StepCount - 1 ? 0 : count - r.ReachedCounts[k + 1]));
        }
        return new FunnelResponse(plan.ByUser ? "user" : "device",
            plan.Order switch { FunnelOrder.Strict => "strict", FunnelOrder.AnyOrder => "any", _ => "sequential" },
            plan.WindowSeconds, plan.Request.From, plan.Request.To, steps, r.Converted, Rate(r.Converted, r.Candidates));
    }

    private static double Rate(long part, long whole) => whole == 0 ? 0 : Math.Round((double)part / whole, 6);

    private async Task<EventIndex> StepIndexAsync(long appId, FunnelStepRequest step, string path, bool byUser, (long From, long To)? range, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(step.Event))
            throw ProblemException.BadRequest($"{path}.event is required.", $"{path}.event");
        await RequireKnownAsync(appId, step.Event, $"{path}.event", ct);
        var where = ParseWhere(step.Where, $"{path}.where");
        var index = where.Count == 0
            ? await indexes.GetAsync(appId, step.Event, byUser, ct)
            : await indexes.GetFilteredAsync(appId, step.Event, byUser, where, clock.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        return range is { } r ? EventIndexes.Slice(index, r.From, r.To) : index;
    }

    public static List<AttributeCondition> ParseWhere(JsonElement? where, string path)
    {
        var list = new List<AttributeCondition>();
        if (where is null || where.Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) return list;
        var errors = new List<RuleError>();
        if (where.Value.ValueKind != JsonValueKind.Array) errors.Add(new(path, "must be an array of conditions"));
        else
        {
            var i = 0;
            foreach (var c in where.Value.EnumerateArray())
                if (AttributeCondition.Parse(c, $"{path}[{i++}]", "attribute", errors) is { } parsed) list.Add(parsed);
        }
        if (errors.Count > 0) throw ProblemException.BadRequest($"{errors[0].Path}: {errors[0].Detail}.", errors[0].Path);
        return list;
    }

    public async Task<RetentionResponse> RetentionAsync(long appId, string? cohortEvent, string? returnEvent, string? from, string? to,
        string? period, int periods, string? by, CancellationToken ct)
    {
        var days = await rollups.EnsureCurrentAsync(appId, ct);
        if (string.IsNullOrWhiteSpace(cohortEvent)) throw ProblemException.BadRequest("cohortEvent is required.", "cohortEvent");
        if (string.IsNullOrWhiteSpace(returnEvent)) throw ProblemException.BadRequest("returnEvent is required.", "returnEvent");
        period ??= "day";
        if (period is not ("day" or "week")) throw ProblemException.BadRequest($"period must be day or week; got '{period}'.", "period");
        if (periods is < 1 or > 365) throw ProblemException.BadRequest($"periods must be 1 to 365; got {periods}.", "periods", 365);
        var byUser = by switch
        {
            null or "device" => false,
            "user" => true,
            _ => throw ProblemException.BadRequest($"by must be device or user; got '{by}'.", "by"),
        };
        await RequireKnownAsync(appId, cohortEvent, "cohortEvent", ct);
        await RequireKnownAsync(appId, returnEvent, "returnEvent", ct);
        var (first, last) = Range(days, from, to, period == "week" ? 55 : 29);
        var length = period == "week" ? 7 : 1;
        var cohort = EventIndexes.Slice(await indexes.GetAsync(appId, cohortEvent, byUser, ct), days.StartOf(first), days.StartOf(last + 1));
        var returning = EventIndexes.Slice(await indexes.GetAsync(appId, returnEvent, byUser, ct), days.StartOf(first), days.StartOf(last + 1 + periods * length));
        // Monday-first weeks: day 4 (1970-01-05) was a Monday.
        var bucketOf = period == "week" ? RetentionEngine.Weeks(days.DayOf, 4) : days.DayOf;
        var result = RetentionEngine.Compute(cohort, returning, bucketOf, periods);
        var cohorts = result.Cohorts.Select(c => new RetentionCohortView(
            Date(period == "week" ? c.Bucket * 7 + 4 : c.Bucket), c.Size, c.Returned,
            Enumerable.Range(1, periods).Select(p => Math.Round(c.Rate(p), 6)).ToList())).ToList();
        return new RetentionResponse(cohortEvent, returnEvent, period, periods, byUser ? "user" : "device", days.Zone.Id, cohorts);
    }

    /// <summary>Every event name recorded for the app, for pickers.</summary>
    public async Task<IReadOnlyList<string>> EventNamesAsync(long appId, CancellationToken ct)
    {
        await rollups.EnsureCurrentAsync(appId, ct);
        await using var conn = await db.OpenAsync(ct);
        return (await Dapper.SqlMapper.QueryAsync<string>(conn, "SELECT DISTINCT name FROM event_rollups WHERE app_id = @appId ORDER BY name", new { appId })).ToList();
    }

    private async Task RequireKnownAsync(long appId, string name, string field, CancellationToken ct)
    {
        if (await rollups.TotalCountAsync(appId, name, ct) is null)
            throw field == "event"
                ? ProblemException.NotFound($"Event '{name}'")
                : ProblemException.BadRequest($"No event named '{name}' was ever recorded for this app.", field);
    }

    /// <summary>[from, to] as day numbers; defaults to the last <paramref name="defaultDays"/>+1 days up to today.</summary>
    public (int First, int Last) Range(LocalDays days, string? from, string? to, int defaultDays)
    {
        var last = to is null ? days.Today(clock) : LocalDays.DayOf(LocalDays.ParseDate(to, "to"));
        var first = from is null ? last - defaultDays : LocalDays.DayOf(LocalDays.ParseDate(from, "from"));
        if (first > last) throw ProblemException.BadRequest($"from ({Date(first)}) is after to ({Date(last)}).", "from");
        if (last - first + 1 > MaxRangeDays)
            throw ProblemException.BadRequest($"The range spans {last - first + 1} days; the limit is {MaxRangeDays}.", "from", MaxRangeDays);
        return (first, last);
    }

    private static IEnumerable<(int Start, int End)> Buckets(int first, int last, string interval)
    {
        var day = first;
        while (day <= last)
        {
            var date = LocalDays.DateOf(day);
            var next = interval switch
            {
                "week" => day + 7 - ((int)date.DayOfWeek + 6) % 7,
                "month" => LocalDays.DayOf(new DateOnly(date.Year, date.Month, 1).AddMonths(1)),
                _ => day + 1,
            };
            yield return (day, Math.Min(next, last + 1) - 1);
            day = next;
        }
    }

    private static string Date(int day) => LocalDays.DateOf(day).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
