using System.Net.Http.Json;
using System.Text.Json;
using Herald.Sim.Providers;
using Herald.Sim.Simulation;

namespace Herald.Tests;

/// <summary>
/// R-MSG-5: a triggered message waiting for its delay is durable. Herald runs as a separate process,
/// is killed with SIGKILL while the triggers are pending, and started again on the same data: each
/// person who triggered the campaign gets it exactly once, nobody else gets it.
/// </summary>
public sealed class TriggerRestartTests
{
    private const int DelaySeconds = 5;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Pending_triggers_survive_a_killed_node_and_fire_once_after_the_restart(string engine)
    {
        await using var providers = await LoopbackProviders.StartAsync();
        await using var cluster = engine == "postgres" ? await PostgresCluster.StartAsync(durable: false) : null;
        var settings = await ProcessTests.SettingsAsync(providers, cluster, "trigger", new Dictionary<string, string?>
        {
            ["Herald:Automation:Poll"] = "00:00:00.200",
        });
        var data = Directory.CreateTempSubdirectory("herald-trigger-").FullName;
        var log = new List<string>();
        const string title = "Sepetini unutma";
        int Got(string token) => providers.Fcm.Received.Count(r => r.Token == token && r.Title == title);
        try
        {
            string restKey;
            long campaignId;
            var tokens = new[] { $"trig-{Guid.NewGuid():N}", $"trig-{Guid.NewGuid():N}", $"trig-{Guid.NewGuid():N}" };
            await using (var first = await HeraldProcess.StartAsync(settings, l => { lock (log) log.Add(l); }, Ct, data))
            {
                restKey = first.RestKey!;
                using var rest = ProcessTests.Client(first.BaseAddress, restKey);
                using var sdk = ProcessTests.Client(first.BaseAddress, first.SdkKey!);
                (await rest.PutAsJsonAsync("/api/v1/app/credentials/fcm", providers.FcmCredentials, Ct)).EnsureSuccessStatusCode();
                var devices = new string[tokens.Length];
                for (var i = 0; i < tokens.Length; i++)
                {
                    using var registered = await sdk.PostAsJsonAsync("/sdk/v1/devices", new { platform = "android", pushToken = tokens[i], pushEnabled = true }, Ct);
                    registered.EnsureSuccessStatusCode();
                    devices[i] = (await registered.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("installationId").GetString()!;
                    (await sdk.PostAsJsonAsync("/sdk/v1/identify", new { installationId = devices[i], externalId = $"shopper-{i}" }, Ct)).EnsureSuccessStatusCode();
                }
                using var created = await rest.PostAsJsonAsync("/api/v1/campaigns", new
                {
                    name = "cart", channel = "push", content = new { title, body = "b" }, audience = new { all = true },
                    trigger = new { type = "event", @event = "added_to_cart", delaySeconds = DelaySeconds },
                }, Ct);
                created.EnsureSuccessStatusCode();
                campaignId = (await created.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
                (await rest.PostAsync($"/api/v1/campaigns/{campaignId}/activate", null, Ct)).EnsureSuccessStatusCode();

                // The first two shoppers add to their carts; the third does something else.
                for (var i = 0; i < tokens.Length; i++)
                {
                    var name = i < 2 ? "added_to_cart" : "viewed_item";
                    (await sdk.PostAsJsonAsync("/sdk/v1/events", new
                    {
                        installationId = devices[i],
                        events = new[] { new { messageId = Guid.NewGuid().ToString("N"), name, timestamp = DateTimeOffset.UtcNow } },
                    }, Ct)).EnsureSuccessStatusCode();
                }
                var pending = 0;
                for (var i = 0; i < 200 && pending < 2; i++)
                {
                    var view = await rest.GetFromJsonAsync<JsonElement>($"/api/v1/campaigns/{campaignId}/automation", Ct);
                    pending = view.GetProperty("triggers").TryGetProperty("pending", out var p) ? p.GetInt32() : 0;
                    if (pending < 2) await Task.Delay(20, Ct);
                }
                pending.ShouldBe(2, string.Join('\n', log.TakeLast(20)));
                await first.KillAsync();
            }
            // Killed before the delay ran out: nothing went out yet, so whatever arrives now comes from the restarted node.
            tokens.Sum(Got).ShouldBe(0);

            await using (var second = await HeraldProcess.StartAsync(settings, l => { lock (log) log.Add(l); }, Ct, data, expectKeys: false))
            {
                using var rest = ProcessTests.Client(second.BaseAddress, restKey);
                for (var i = 0; i < 1500 && (Got(tokens[0]) == 0 || Got(tokens[1]) == 0); i++) await Task.Delay(20, Ct);
                Got(tokens[0]).ShouldBe(1, string.Join('\n', log.TakeLast(20)));
                Got(tokens[1]).ShouldBe(1);
                var view = await rest.GetFromJsonAsync<JsonElement>($"/api/v1/campaigns/{campaignId}/automation", Ct);
                for (var i = 0; i < 200 && view.GetProperty("sent").GetInt32() < 2; i++)
                {
                    await Task.Delay(20, Ct);
                    view = await rest.GetFromJsonAsync<JsonElement>($"/api/v1/campaigns/{campaignId}/automation", Ct);
                }
                view.GetProperty("sent").GetInt32().ShouldBe(2);
                (view.GetProperty("triggers").TryGetProperty("pending", out var left) ? left.GetInt32() : 0).ShouldBe(0);
            }
            Got(tokens[0]).ShouldBe(1);
            Got(tokens[1]).ShouldBe(1);
            Got(tokens[2]).ShouldBe(0);
        }
        finally
        {
            try { Directory.Delete(data, true); } catch (IOException) { }
        }
    }
}
