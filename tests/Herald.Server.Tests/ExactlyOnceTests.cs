using System.Net.Http.Json;
using System.Text.Json;
using Herald.Sim.Providers;
using Herald.Sim.Simulation;

namespace Herald.Tests;

/// <summary>
/// R-DLV-3: no device receives the same campaign message twice, even if the server crashes mid-send.
/// Herald runs as a separate process, is killed with SIGKILL in the middle of a 20,000-device send
/// and started again on the same data.
/// </summary>
public sealed class ExactlyOnceTests
{
    private const int Devices = 20_000;
    private const int ChunkSize = 500;
    private const int ChunksInFlight = 2;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_send_killed_midway_reaches_every_device_once_apart_from_the_chunks_in_flight(string engine)
    {
        await using var providers = await LoopbackProviders.StartAsync();
        await using var cluster = engine == "postgres" ? await PostgresCluster.StartAsync(durable: false) : null;
        var settings = await ProcessTests.SettingsAsync(providers, cluster, "crash", new Dictionary<string, string?>
        {
            ["Herald:Dispatch:ChunkSize"] = ChunkSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Herald:Dispatch:BulkConcurrency"] = "32",
            ["Herald:Dispatch:ChunksInFlight"] = ChunksInFlight.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Herald:Dispatch:Lease"] = "00:00:06",
            ["Herald:Dispatch:LeaseCheck"] = "00:00:00.500",
        });
        var data = Directory.CreateTempSubdirectory("herald-crash-").FullName;
        var log = new List<string>();
        try
        {
            string sdkKey, restKey;
            long campaignId;
            var tokens = new string[Devices];
            await using (var first = await HeraldProcess.StartAsync(settings, l => { lock (log) log.Add(l); }, Ct, data))
            {
                (sdkKey, restKey) = (first.SdkKey!, first.RestKey!);
                using var rest = ProcessTests.Client(first.BaseAddress, restKey);
                using var sdk = ProcessTests.Client(first.BaseAddress, sdkKey);
                (await rest.PutAsJsonAsync("/api/v1/app/credentials/fcm", providers.FcmCredentials, Ct)).EnsureSuccessStatusCode();
                await Parallel.ForAsync(0, Devices, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = Ct }, async (i, ct) =>
                {
                    tokens[i] = $"crash-{i}";
                    using var res = await sdk.PostAsJsonAsync("/sdk/v1/devices", new { platform = "android", pushToken = tokens[i], pushEnabled = true }, ct);
                    res.EnsureSuccessStatusCode();
                });
                using var created = await rest.PostAsJsonAsync("/api/v1/campaigns", new
                {
                    name = "crash", channel = "push", content = new { title = "Hi {{default first_name \"there\"}}", body = "b" }, audience = new { all = true },
                }, Ct);
                campaignId = (await created.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
                (await rest.PostAsync($"/api/v1/campaigns/{campaignId}/send", null, Ct)).EnsureSuccessStatusCode();

                // Kill it once a few thousand messages are out, with more in flight.
                for (var i = 0; i < 2000 && providers.Fcm.Received.Count < 3000; i++) await Task.Delay(10, Ct);
                await first.KillAsync();
            }
            var atKill = providers.Fcm.Received.Count;
            atKill.ShouldBeGreaterThan(0);
            atKill.ShouldBeLessThan(Devices);

            await using (var second = await HeraldProcess.StartAsync(settings, l => { lock (log) log.Add(l); }, Ct, data, expectKeys: false))
            {
                using var rest = ProcessTests.Client(second.BaseAddress, restKey);
                JsonElement report = default;
                for (var i = 0; i < 1200; i++)
                {
                    report = await rest.GetFromJsonAsync<JsonElement>($"/api/v1/campaigns/{campaignId}/report", Ct);
                    if (report.GetProperty("state").GetString() == "sent") break;
                    await Task.Delay(50, Ct);
                }
                report.GetProperty("state").GetString().ShouldBe("sent", string.Join('\n', log.TakeLast(20)));
                report.GetProperty("targeted").GetInt32().ShouldBe(Devices);
                report.GetProperty("sent").GetInt32().ShouldBe(Devices);
            }

            // Every device got the message; the only repeats are messages that were in flight at the
            // kill (the chunks the lane had claimed), and each repeat carries the same collapse key.
            var byToken = providers.Fcm.Received.GroupBy(r => r.Token!).ToDictionary(g => g.Key, g => g.ToList());
            tokens.All(byToken.ContainsKey).ShouldBeTrue();
            var repeated = byToken.Where(kv => kv.Value.Count > 1).ToList();
            repeated.Count.ShouldBeLessThanOrEqualTo(ChunkSize * ChunksInFlight);
            foreach (var (_, requests) in repeated)
            {
                requests.Count.ShouldBe(2);
                requests.Select(r => r.Message.GetProperty("android").GetProperty("collapse_key").GetString()).Distinct().Count().ShouldBe(1);
            }
        }
        finally
        {
            try { Directory.Delete(data, true); } catch (IOException) { }
        }
    }
}
