using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Herald.Sim.Local;
using Herald.Sim.Simulation;

namespace Herald.Bench;

/// <summary>
/// Event-to-membership latency of a real-time segment under ingest load: background clients post
/// batches of events continuously while probes send one "checkout" event for a device not yet in
/// the segment ("did checkout in the last day") and time until the durable entered change for that
/// device can be read through the REST API. Herald runs as a separate process on durable PostgreSQL.
/// Usage: realtime [--devices N] [--probes P] [--load-clients C]
/// </summary>
public static class RealtimeBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var devices = Stats.Arg(args, "--devices", 2000);
        var probes = Stats.Arg(args, "--probes", 100);
        var loadClients = Stats.Arg(args, "--load-clients", 16);
        await using var pg = await PostgresCluster.StartAsync(durable: true, externalVariable: "HERALD_BENCH_PG");
        var cs = await pg.CreateDatabaseAsync($"realtime_{Guid.NewGuid():N}");
        await using var herald = await HeraldProcess.StartAsync(new Dictionary<string, string?>
        {
            ["Herald:Storage:Provider"] = "Postgres",
            ["Herald:Storage:ConnectionString"] = cs,
        }, Console.Error.WriteLine, CancellationToken.None);
        using var sdk = Client(herald.BaseAddress, herald.SdkKey!);
        using var rest = Client(herald.BaseAddress, herald.RestKey!);

        var ids = new string[devices];
        await Parallel.ForAsync(0, devices, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            using var res = await sdk.PostAsJsonAsync("/sdk/v1/devices", new { platform = "android", pushToken = $"t-{i}", pushEnabled = true }, ct);
            ids[i] = (await res.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("installationId").GetString()!;
        });
        // Segments name events Herald has seen: one checkout from a device that is not probed.
        using (var seed = await sdk.PostAsync("/sdk/v1/events", new StringContent(
            $$"""{"installationId":"{{ids[^1]}}","events":[{"messageId":"seed","name":"checkout","timestamp":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}}}]}""", Encoding.UTF8, "application/json")))
            seed.EnsureSuccessStatusCode();
        using var created = await rest.PostAsync("/api/v1/segments", new StringContent(
            """{"name":"checked out today","realtime":true,"rules":{"event":"checkout","withinLastDays":1}}""", Encoding.UTF8, "application/json"));
        var segment = await created.Content.ReadFromJsonAsync<JsonElement>();
        if (!created.IsSuccessStatusCode) throw new InvalidOperationException(segment.ToString());
        var segmentId = segment.GetProperty("id").GetInt64();

        // Background load: batches of 50 ordinary events from random devices, as fast as they go.
        using var stop = new CancellationTokenSource();
        long loadEvents = 0;
        var load = Enumerable.Range(0, loadClients).Select(c => Task.Run(async () =>
        {
            var rng = new Random(c);
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                var device = ids[rng.Next(devices)];
                var sb = new StringBuilder("{\"installationId\":\"").Append(device).Append("\",\"events\":[");
                for (var k = 0; k < 50; k++)
                    sb.Append(k > 0 ? "," : "").Append("{\"messageId\":\"l-").Append(c).Append('-').Append(n++).Append("\",\"name\":\"view_item\",\"timestamp\":")
                      .Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()).Append('}');
                sb.Append("]}");
                try
                {
                    using var res = await sdk.PostAsync("/sdk/v1/events", new StringContent(sb.ToString(), Encoding.UTF8, "application/json"), stop.Token);
                    if (res.IsSuccessStatusCode) Interlocked.Add(ref loadEvents, 50);
                }
                catch (OperationCanceledException) { }
            }
        })).ToArray();

        await Task.Delay(2000); // the load is running
        var latencies = new List<double>();
        long cursor = 0;
        var wall = Stopwatch.StartNew();
        for (var p = 0; p < probes; p++)
        {
            var device = ids[p];
            var sw = Stopwatch.StartNew();
            using (var res = await sdk.PostAsync("/sdk/v1/events", new StringContent(
                $$"""{"installationId":"{{device}}","events":[{"messageId":"probe-{{p}}","name":"checkout","timestamp":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}}}]}""", Encoding.UTF8, "application/json")))
                res.EnsureSuccessStatusCode();
            var ordinal = (await rest.GetFromJsonAsync<JsonElement>($"/api/v1/devices/{device}")).GetProperty("ordinal").GetInt32();
            var seen = false;
            while (!seen)
            {
                var changes = await rest.GetFromJsonAsync<JsonElement>($"/api/v1/segments/{segmentId}/changes?after={cursor}");
                foreach (var c in changes.EnumerateArray())
                {
                    cursor = Math.Max(cursor, c.GetProperty("id").GetInt64());
                    if (c.GetProperty("deviceOrdinal").GetInt32() == ordinal && c.GetProperty("entered").GetBoolean()) seen = true;
                }
                if (!seen) await Task.Delay(5);
            }
            latencies.Add(sw.Elapsed.TotalMilliseconds);
        }
        var loadRate = Interlocked.Read(ref loadEvents) / (wall.Elapsed.TotalSeconds + 2);
        await stop.CancelAsync();
        await Task.WhenAll(load);
        latencies.Sort();
        double P(double q) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
        Console.WriteLine($"| real-time segment, event → entered change readable | p50 {P(0.5):N0} ms | p99 {P(0.99):N0} ms | max {latencies[^1]:N0} ms | under ~{loadRate:N0} events/s of load | goal p99 <= 5,000 ms |");
        return 0;
    }

    private static HttpClient Client(Uri baseAddress, string key)
    {
        var c = new HttpClient { BaseAddress = baseAddress };
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return c;
    }

}
