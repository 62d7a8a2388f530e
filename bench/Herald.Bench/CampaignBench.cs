using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Gateways;
using Herald.Gateways.Fcm;
using Herald.Sim.Local;
using Herald.Sim.Providers;
using Herald.Sim.Simulation;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Bench;

/// <summary>
/// A campaign end to end: N Android devices (COPied into the devices table of a durable PostgreSQL),
/// one campaign with a personalised title, time from the send call to the last provider request at
/// the loopback FCM server — against, in the same run, the gateway alone blasting the same N
/// requests at the same server. Then fast push: an urgent 1,000-device message sent while a bulk
/// send runs, time from its send call to its last provider request.
/// Both sides are warmed first with the same number of messages (--warmup, default 50,000; 0 for a
/// cold start): a running server has compiled its send path long before a big campaign, and so has a
/// running blast.
/// Usage: campaign [--devices N] [--fast-rounds R] [--warmup W] [--chunk C]
/// </summary>
public static class CampaignBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var devices = Stats.Arg(args, "--devices", 200_000);
        var fastRounds = Stats.Arg(args, "--fast-rounds", 5);
        var warmup = Stats.Arg(args, "--warmup", 50_000);
        var chunk = Stats.Arg(args, "--chunk", 1000);
        Console.WriteLine($"campaign bench: {devices:N0} devices, {fastRounds} fast-push rounds, {Environment.ProcessorCount} cores");
        await using var providers = await LoopbackProviders.StartAsync();
        await using var pg = await PostgresCluster.StartAsync(durable: true, externalVariable: "HERALD_BENCH_PG");
        var cs = await pg.CreateDatabaseAsync($"campaign_{Guid.NewGuid():N}");
        var settings = new Dictionary<string, string?>(providers.HeraldSettings())
        {
            ["Herald:Storage:Provider"] = "Postgres",
            ["Herald:Storage:ConnectionString"] = cs,
            ["Herald:Dispatch:ChunkSize"] = chunk.ToString(CultureInfo.InvariantCulture),
            ["Herald:Dispatch:BulkConcurrency"] = "256",
            ["Herald:Dispatch:UrgentConcurrency"] = "64",
            // The loopback server has no quota and the blast is not paced: neither is Herald here
            // (by default it paces itself under FCM's 600,000 messages a minute).
            ["Herald:Gateways:Fcm:MessagesPerMinute"] = "",
        };
        await using var herald = await HeraldProcess.StartAsync(settings, Console.Error.WriteLine, CancellationToken.None);
        using var rest = new HttpClient { BaseAddress = herald.BaseAddress, Timeout = TimeSpan.FromMinutes(30) };
        rest.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", herald.RestKey);
        (await rest.PutAsJsonAsync("/api/v1/app/credentials/fcm", providers.FcmCredentials)).EnsureSuccessStatusCode();
        (await rest.PutAsJsonAsync("/api/v1/app/credentials/apns", providers.ApnsCredentials)).EnsureSuccessStatusCode();
        providers.Fcm.RecordRequests = false;
        providers.Apns.RecordRequests = false;
        var appId = (await rest.GetFromJsonAsync<JsonElement>("/api/v1/app")).GetProperty("id").GetInt64();

        if (warmup > 0)
        {
            // A warm-up campaign to devices that are then switched off, so the measured one still
            // targets exactly N devices.
            await LoadDevicesAsync(cs, appId, warmup, "android", i => $"warm-{i}");
            var warmId = await CreateAsync(rest, new { name = "warm-up", channel = "push", content = new { title = "Hi {{ first_name | default: 'there' }}", body = "Warm-up" }, audience = new { all = true } });
            var sw = Stopwatch.StartNew();
            (await rest.PostAsync($"/api/v1/campaigns/{warmId}/send", null)).EnsureSuccessStatusCode();
            while (providers.Fcm.SendRequests < warmup) await Task.Delay(20);
            Console.WriteLine($"warm-up campaign: {warmup:N0} messages in {sw.Elapsed.TotalSeconds:0.00} s");
            await using var conn = new NpgsqlConnection(cs);
            await conn.OpenAsync();
            await using var off = new NpgsqlCommand($"UPDATE devices SET push_enabled = false WHERE app_id = {appId}", conn);
            await off.ExecuteNonQueryAsync();
        }
        var start = warmup;
        var load = Stopwatch.StartNew();
        await LoadDevicesAsync(cs, appId, devices, "android", i => $"bulk-{i}", start);
        Console.WriteLine($"loaded {devices:N0} devices by COPY in {load.Elapsed.TotalSeconds:0.0} s");

        // The peer: the gateway alone, same server, same number of requests, 256 in flight.
        var credentials = FcmCredentials.FromServiceAccountJson(providers.Fcm.ServiceAccountJson);
        var options = new FcmOptions { BaseAddress = providers.Fcm.BaseAddress, MessagesPerMinute = null };
        options.Http.TrustedCertificate = providers.Fcm.Certificate;
        options.Http.MaxConcurrentRequests = 256;
        using (var gateway = new FcmGateway(credentials, options))
        {
            if (warmup > 0)
            {
                var w = -1;
                await Task.WhenAll(Enumerable.Range(0, 256).Select(async _ =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref w)) < warmup)
                        await gateway.SendAsync(new PushTarget($"warm-{i}"), new PushMessage { MessageId = $"warm-{i}", Title = "Hi there", Body = "Warm-up" }, CancellationToken.None);
                }));
            }
            var next = -1;
            var blastCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var blast = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, 256).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < devices)
                    await gateway.SendAsync(new PushTarget($"blast-{i}"), new PushMessage { MessageId = $"blast-{i}", Title = "Hi there", Body = "Spring sale" }, CancellationToken.None);
            }));
            blast.Stop();
            var blastCpu = Process.GetCurrentProcess().TotalProcessorTime - blastCpu0;
            Console.WriteLine($"gateway-only blast: {devices:N0} requests in {blast.Elapsed.TotalSeconds:0.00} s ({devices / blast.Elapsed.TotalSeconds:N0}/s)");
            var before = providers.Fcm.SendRequests;

            var id = await CreateAsync(rest, new
            {
                name = "bench", channel = "push",
                content = new { title = "Hi {{ first_name | default: 'there' }}", body = "Spring sale" },
                audience = new { all = true },
            });
            var (self0, herald0, pg0) = (Process.GetCurrentProcess().TotalProcessorTime, herald.CpuTime, pg.CpuTime ?? TimeSpan.Zero);
            var send = Stopwatch.StartNew();
            var plan = await rest.PostAsync($"/api/v1/campaigns/{id}/send", null);
            plan.EnsureSuccessStatusCode();
            var planned = send.Elapsed;
            while (providers.Fcm.SendRequests - before < devices) await Task.Delay(20);
            var total = send.Elapsed;
            var (self1, herald1, pg1) = (Process.GetCurrentProcess().TotalProcessorTime, herald.CpuTime, pg.CpuTime ?? TimeSpan.Zero);
            // CPU per message: the blast's is the gateway and the loopback server (both in this process);
            // the campaign's adds Herald and PostgreSQL. Unlike wall time, other tenants hardly move it.
            Console.WriteLine($"cpu per message: blast {blastCpu.TotalMicroseconds / devices:0.0} µs (gateway + loopback server); " +
                $"campaign {(self1 - self0 + herald1 - herald0 + pg1 - pg0).TotalMicroseconds / devices:0.0} µs " +
                $"(Herald {(herald1 - herald0).TotalMicroseconds / devices:0.0}, PostgreSQL {(pg1 - pg0).TotalMicroseconds / devices:0.0}, loopback server {(self1 - self0).TotalMicroseconds / devices:0.0})");
            Console.WriteLine($"campaign: planned in {planned.TotalSeconds:0.00} s, last provider request after {total.TotalSeconds:0.00} s ({devices / total.TotalSeconds:N0}/s)");
            Console.WriteLine($"| campaign of {devices:N0} | Herald {total.TotalSeconds:0.00} s | gateway blast {blast.Elapsed.TotalSeconds:0.00} s | ratio {total / blast.Elapsed:0.00}x (goal <= 1.25x) |");
        }

        // Fast push while a bulk send runs: the bulk goes to iOS devices (APNs), the urgent message to
        // Android devices (FCM), so the FCM server's count is the urgent lane's alone.
        await LoadDevicesAsync(cs, appId, devices, "ios", i => i.ToString("x64", CultureInfo.InvariantCulture), start: start + devices);
        var urgentIds = await LoadDevicesAsync(cs, appId, 1000, "android", i => $"urgent-{i}", start: start + 2 * devices);
        var bulkId = await CreateAsync(rest, new { name = "bulk", channel = "push", content = new { title = "Bulk", body = "b" }, audience = new { all = true, platforms = new[] { "ios" } } });
        (await rest.PostAsync($"/api/v1/campaigns/{bulkId}/send", null)).EnsureSuccessStatusCode();
        var latencies = new List<double>();
        for (var r = 0; r < fastRounds; r++)
        {
            while (providers.Apns.Requests < 1000) await Task.Delay(5); // the bulk send is under way
            var before = providers.Fcm.SendRequests;
            var sw = Stopwatch.StartNew();
            using var req = new HttpRequestMessage(HttpMethod.Post, "/api/v1/messages")
            {
                Content = JsonContent.Create(new { channel = "push", devices = urgentIds, content = new { title = "Your code", body = $"round {r}" } }),
            };
            (await rest.SendAsync(req)).EnsureSuccessStatusCode();
            while (providers.Fcm.SendRequests - before < 1000) await Task.Delay(2);
            latencies.Add(sw.Elapsed.TotalMilliseconds);
            Console.WriteLine($"  fast push round {r + 1}: 1,000 devices in {sw.Elapsed.TotalMilliseconds:N0} ms while the bulk send runs ({providers.Apns.Requests:N0} bulk requests so far)");
        }
        Console.WriteLine($"| fast push, 1,000 devices during a bulk send | p50 {Stats.Median(latencies):N0} ms (goal <= 1,000 ms) |");
        return 0;
    }

    private static async Task<long> CreateAsync(HttpClient rest, object definition)
    {
        using var res = await rest.PostAsJsonAsync("/api/v1/campaigns", definition);
        res.EnsureSuccessStatusCode();
        return (await res.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    private static async Task<string[]> LoadDevicesAsync(string cs, long appId, int count, string platform, Func<int, string> token, int start = 0)
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        var ids = new string[count];
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await using (var copy = await conn.BeginBinaryImportAsync("COPY devices (app_id, ordinal, installation_id, platform, push_token, push_enabled, created_at, updated_at, last_seen_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < count; i++)
            {
                ids[i] = Guid.NewGuid().ToString();
                await copy.StartRowAsync();
                await copy.WriteAsync(appId, NpgsqlDbType.Bigint);
                await copy.WriteAsync(start + i, NpgsqlDbType.Integer);
                await copy.WriteAsync(ids[i], NpgsqlDbType.Text);
                await copy.WriteAsync(platform, NpgsqlDbType.Text);
                await copy.WriteAsync(token(i), NpgsqlDbType.Text);
                await copy.WriteAsync(true, NpgsqlDbType.Boolean);
                await copy.WriteAsync(now, NpgsqlDbType.Bigint);
                await copy.WriteAsync(now, NpgsqlDbType.Bigint);
                await copy.WriteAsync(now, NpgsqlDbType.Bigint);
            }
            await copy.CompleteAsync();
        }
        await using var bump = new NpgsqlCommand($"UPDATE apps SET next_device_ordinal = {start + count} WHERE id = {appId}; ANALYZE devices", conn);
        await bump.ExecuteNonQueryAsync();
        return ids;
    }

}
