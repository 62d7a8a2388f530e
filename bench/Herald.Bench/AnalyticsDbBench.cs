using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dapper;
using Herald.Server.Analytics;
using Herald.Server.Segments;
using Herald.Server.Storage;
using Herald.Sim.Local;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Bench;

// `analytics-db [--devices N] [--events M]`: Herald's server-side analytics on PostgreSQL against the
// same questions asked of PostgreSQL in SQL, same data, same run. Rows are COPied straight into
// devices and events (loading 10M events through the HTTP API would measure ingest, not analytics);
// the rollups are then built by the same rebuild path as `herald analytics rebuild`.
public static class AnalyticsDbBench
{
    private const int Names = 20, Days = 90;

    public static async Task<int> RunAsync(string[] args)
    {
        int devices = Stats.Arg(args, "--devices", 1_000_000), events = Stats.Arg(args, "--events", 10_000_000);
        var clock = TimeProvider.System;
        await using var bench = await BenchDatabase.CreateAsync(clock);
        var db = bench.Db;
        var analyticsOptions = Options.Create(new AnalyticsOptions { ProfileSnapshotTtl = TimeSpan.FromHours(1) });
        var rollups = new RollupStore(db, clock, analyticsOptions, NullLogger<RollupStore>.Instance);
        var indexes = new EventIndexes(db, rollups, analyticsOptions);
        var analytics = new AnalyticsService(db, rollups, indexes, clock);
        var evaluator = new SegmentEvaluator(rollups, indexes, new ProfileSnapshots(db, clock, analyticsOptions), new Herald.Server.Geofences.GeofenceService(db, Options.Create(new Herald.Server.Geofences.GeofenceOptions()), clock), new Herald.Server.Predictions.PredictionService(db, Options.Create(new Herald.Server.Predictions.PredictionOptions()), clock), clock);

        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var appId = bench.AppId;
        await using (var conn = (NpgsqlConnection)await db.OpenAsync())
        {
            var sw = Stopwatch.StartNew();
            await bench.CopyDevicesAsync(conn, devices, now, d => $"i-{d}", d => d % 3 == 0 ? "ios" : d % 3 == 1 ? "android" : "web", d => d % 4 != 0);
            var rng = new Random(42);
            var cumulative = new double[Names];
            double sum = 0;
            for (var r = 0; r < Names; r++) cumulative[r] = sum += 1.0 / (r + 1);
            await using (var copy = await conn.BeginBinaryImportAsync("COPY events (app_id, message_id, name, device_ordinal, occurred_at, received_at, properties) FROM STDIN (FORMAT BINARY)"))
            {
                for (var i = 0; i < events; i++)
                {
                    var e = Array.BinarySearch(cumulative, rng.NextDouble() * sum);
                    e = e < 0 ? Math.Min(~e, Names - 1) : e;
                    await copy.StartRowAsync();
                    await copy.WriteAsync(appId, NpgsqlDbType.Bigint);
                    await copy.WriteAsync(i.ToString(CultureInfo.InvariantCulture), NpgsqlDbType.Text);
                    await copy.WriteAsync($"e{e:00}", NpgsqlDbType.Text);
                    await copy.WriteAsync((int)(devices * Math.Pow(rng.NextDouble(), 1.6)), NpgsqlDbType.Integer);
                    await copy.WriteAsync(now - rng.NextInt64(0, Days * 86_400_000L), NpgsqlDbType.Bigint);
                    await copy.WriteAsync(now, NpgsqlDbType.Bigint);
                    await copy.WriteAsync("{}", NpgsqlDbType.Text);
                }
                await copy.CompleteAsync();
            }
            await conn.ExecuteAsync("ANALYZE events; ANALYZE devices");
            Console.WriteLine($"loaded {devices:N0} devices and {events:N0} events (COPY) in {sw.Elapsed.TotalSeconds:0.0} s");
        }

        var rebuild = Stopwatch.StartNew();
        await rollups.RebuildAsync(appId, force: true, CancellationToken.None);
        Console.WriteLine($"rollups rebuilt from the events table in {rebuild.Elapsed.TotalSeconds:0.0} s");

        // 1. Unique devices of one event over 90 days.
        var today = LocalDays.For("UTC").Today(clock);
        long ours = 0, theirs = 0;
        var cold = Time(() => { ours = Uniques(rollups, appId, today).GetAwaiter().GetResult(); });
        var warm = Median(7, () => { ours = Uniques(rollups, appId, today).GetAwaiter().GetResult(); });
        var sql = Median(3, () =>
        {
            using var c = db.OpenAsync().GetAwaiter().GetResult();
            theirs = c.ExecuteScalar<long>("SELECT count(DISTINCT device_ordinal) FROM events WHERE app_id = @appId AND name = 'e00' AND occurred_at >= @from",
                new { appId, from = now - Days * 86_400_000L - 86_400_000L }, commandTimeout: 3600);
        });
        Console.WriteLine($"uniques of e00 over 90 days: Herald {ours:N0} in {warm:0.0} ms (first read from the database {cold:0} ms), PostgreSQL count(DISTINCT) {theirs:N0} in {sql:0} ms -> {(ours == theirs ? "identical" : "DIFFERENT")}, {sql / warm:0}x");

        // 2. 3-step funnel, 7-day window, sequential.
        var request = new FunnelRequest([new("e01"), new("e03"), new("e05")], 7 * 86_400);
        IReadOnlyList<long> funnel = [];
        var fCold = Time(() => funnel = analytics.FunnelAsync(appId, request, CancellationToken.None).GetAwaiter().GetResult().Result.ReachedCounts);
        var fWarm = Median(5, () => funnel = analytics.FunnelAsync(appId, request, CancellationToken.None).GetAwaiter().GetResult().Result.ReachedCounts);
        long[] sqlFunnel = [];
        var fSql = Time(() =>
        {
            using var c = db.OpenAsync().GetAwaiter().GetResult();
            var row = c.QuerySingle<(long, long, long)>(
                """
                WITH a AS (SELECT device_ordinal d, occurred_at t FROM events WHERE app_id = @appId AND name = 'e01'),
                     b AS (SELECT device_ordinal d, occurred_at t FROM events WHERE app_id = @appId AND name = 'e03'),
                     c AS (SELECT device_ordinal d, occurred_at t FROM events WHERE app_id = @appId AND name = 'e05'),
                     ab AS (SELECT a.d, a.t AS t1, min(b.t) AS t2 FROM a JOIN b ON b.d = a.d AND b.t > a.t AND b.t <= a.t + @w GROUP BY a.d, a.t),
                     abc AS (SELECT DISTINCT ab.d FROM ab JOIN c ON c.d = ab.d AND c.t > ab.t2 AND c.t <= ab.t1 + @w)
                SELECT (SELECT count(DISTINCT d) FROM a), (SELECT count(DISTINCT d) FROM ab), (SELECT count(*) FROM abc)
                """, new { appId, w = 7 * 86_400_000L }, commandTimeout: 3600);
            sqlFunnel = [row.Item1, row.Item2, row.Item3];
        });
        Console.WriteLine($"3-step funnel: Herald [{string.Join(", ", funnel)}] in {fWarm:0} ms (first, index read from the database: {fCold:0} ms); SQL [{string.Join(", ", sqlFunnel)}] in {fSql:0} ms -> {(funnel.SequenceEqual(sqlFunnel) ? "identical" : "DIFFERENT")}, {fSql / fWarm:0.0}x");

        // 3. Segment of 3 clauses: device fact AND behaviour AND NOT behaviour.
        var errors = new List<RuleError>();
        using var doc = JsonDocument.Parse("""{"and":[{"device":"platform","op":"eq","value":"android"},{"event":"e02","withinLastDays":30},{"not":{"event":"e04","withinLastDays":7}}]}""");
        var rule = SegmentRules.Parse(doc.RootElement, errors)!;
        long size = 0;
        var sCold = Time(() => size = evaluator.EvaluateAsync(appId, rule, (_, _) => Task.FromResult<Rule?>(null), CancellationToken.None).GetAwaiter().GetResult().Cardinality);
        var times = new List<double>();
        for (var i = 0; i < 30; i++)
            times.Add(Time(() => size = evaluator.EvaluateAsync(appId, rule, (_, _) => Task.FromResult<Rule?>(null), CancellationToken.None).GetAwaiter().GetResult().Cardinality));
        Console.WriteLine($"segment (platform AND did e02 in 30 days AND NOT e04 in 7 days): {size:N0} devices, p50 {Stats.Median(times):0.0} ms (first, with the device scan: {sCold:0} ms)");
        return 0;
    }

    private static async Task<long> Uniques(RollupStore rollups, long appId, int today)
    {
        var rows = await rollups.RangeAsync(appId, "e00", today - Days, today, CancellationToken.None);
        return Herald.Domain.Analytics.RoaringBitmap.OrMany(rows.Select(r => r.Devices)).Cardinality;
    }

    private static double Time(Action a)
    {
        var sw = Stopwatch.StartNew();
        a();
        return sw.Elapsed.TotalMilliseconds;
    }

    private static double Median(int runs, Action a)
    {
        var t = new List<double>();
        for (var i = 0; i < runs; i++) t.Add(Time(a));
        return Stats.Median(t);
    }

}
