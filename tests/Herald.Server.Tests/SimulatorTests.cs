using System.Net.Http.Json;
using System.Text.Json;
using Herald.Gateways;
using Herald.Server.Delivery;
using Herald.Sim.Providers;
using Herald.Sim.Simulation;

namespace Herald.Tests;

/// <summary>The device simulator against the real host: register through the SDK API, receive, react, obey recall.</summary>
public abstract class SimulatorTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(TestApp App, string Vapid)> AppAsync()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        foreach (var (channel, body) in new[] { ("fcm", host.Providers.FcmCredentials), ("apns", host.Providers.ApnsCredentials), ("vapid", LoopbackProviders.VapidCredentials) })
            (await rest.PutAsJsonAsync($"/api/v1/app/credentials/{channel}", body, Ct)).EnsureSuccessStatusCode();
        var view = await rest.GetJson("/api/v1/app");
        return (app, view.GetProperty("vapidPublicKey").GetString()!);
    }

    private static async Task<JsonElement> TestPush(TestApp app, SimDevice d)
    {
        using var res = await app.Rest().PostAsJsonAsync($"/api/v1/devices/{d.InstallationId}/test-push", new { title = "Sim", body = d.Platform }, Ct);
        return JsonDocument.Parse(await res.Content.ReadAsStringAsync(Ct)).RootElement.Clone();
    }

    [Fact]
    public async Task Simulated_devices_register_receive_report_back_and_obey_recall()
    {
        var (app, vapid) = await AppAsync();
        var sim = new DeviceSimulator(app.Sdk(), host.Providers,
            new SimOptions { Devices = 40, Seed = 7, Concurrency = 4, Reactions = ReactionRates.Immediate(openRate: 0, dismissRate: 0) }, host.Clock);
        await sim.RegisterAsync(vapid, ct: Ct);

        sim.Devices.Select(d => d.Platform).Distinct().Order().ShouldBe(["android", "ios", "web"]);
        var first = await app.Rest().GetJson($"/api/v1/devices/{sim.Devices[0].InstallationId}");
        first.GetProperty("platform").GetString().ShouldBe(sim.Devices[0].Platform);
        first.GetProperty("timezone").GetString().ShouldBe(sim.Devices[0].Timezone);
        SimOptions.Timezones.ShouldContain(first.GetProperty("timezone").GetString());

        foreach (var platform in new[] { "android", "ios", "web" })
        {
            var device = sim.Devices.First(d => d.Platform == platform);
            var sent = await TestPush(app, device);
            sent.GetProperty("outcome").GetString().ShouldBe("Delivered", sent.ToString());
            var messageId = sent.GetProperty("messageId").GetString()!;

            sim.Pump().ShouldBeGreaterThanOrEqualTo(1);
            device.Displayed.ShouldBe([messageId]);
            await sim.FlushAsync();
            var events = await app.Rest().GetJson($"/api/v1/devices/{device.InstallationId}/events");
            var received = events.EnumerateArray().Single(e => e.GetProperty("name").GetString() == "push_received");
            received.GetProperty("attributes").GetProperty("message_id").GetString().ShouldBe(messageId);

            if (platform == "web") continue; // web push cannot be recalled (R-MSG-10)
            var gateway = await host.Services.GetRequiredService<GatewayRegistry>().PushAsync(app.Id, Channels.ForPlatform(platform)!, Ct);
            (await gateway.SendAsync(new PushTarget(device.Token), new PushMessage { MessageId = messageId, Command = "recall" }, Ct)).Kind.ShouldBe(OutcomeKind.Delivered);
            sim.Pump();
            device.Displayed.ShouldBeEmpty();
        }
        sim.Stats.Recalled.ShouldBe(2);
        sim.Stats.Registered.ShouldBe(40);
    }

    [Fact]
    public async Task Opened_pushes_are_reported_with_the_message_id()
    {
        var (app, vapid) = await AppAsync();
        var sim = new DeviceSimulator(app.Sdk(), host.Providers,
            new SimOptions { Devices = 3, Seed = 11, IosShare = 0, AndroidShare = 1, Reactions = ReactionRates.Immediate(openRate: 1, dismissRate: 0) }, host.Clock);
        await sim.RegisterAsync(vapid, ct: Ct);
        var device = sim.Devices[1];
        var messageId = (await TestPush(app, device)).GetProperty("messageId").GetString();
        sim.Pump();
        await sim.FlushAsync();
        device.Displayed.ShouldBeEmpty(); // opening takes it out of the tray
        var names = (await app.Rest().GetJson($"/api/v1/devices/{device.InstallationId}/events")).EnumerateArray()
            .Where(e => e.GetProperty("attributes").TryGetProperty("message_id", out var m) && m.GetString() == messageId)
            .Select(e => e.GetProperty("name").GetString()).Order().ToList();
        names.ShouldBe(["push_opened", "push_received"]);
    }

    [Fact]
    public async Task Injected_dead_tokens_uninstall_devices_and_injected_errors_do_not()
    {
        var (app, vapid) = await AppAsync();
        var dead = new DeviceSimulator(app.Sdk(), host.Providers, new SimOptions { Devices = 6, Seed = 3, DeadTokenPercent = 100 }, host.Clock);
        await dead.RegisterAsync(vapid, ct: Ct);
        foreach (var d in dead.Devices)
        {
            (await TestPush(app, d)).GetProperty("outcome").GetString().ShouldBe("TokenDead", d.Platform);
            (await app.Rest().GetJson($"/api/v1/devices/{d.InstallationId}")).GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Number);
        }
        var flaky = new DeviceSimulator(app.Sdk(), host.Providers, new SimOptions { Devices = 6, Seed = 4, ServerErrorPercent = 50, TooManyRequestsPercent = 50 }, host.Clock);
        await flaky.RegisterAsync(vapid, ct: Ct);
        foreach (var d in flaky.Devices)
        {
            d.Fault.ShouldBeOneOf("429", "5xx");
            (await TestPush(app, d)).GetProperty("outcome").GetString().ShouldBe("RetryLater", d.Platform);
            (await app.Rest().GetJson($"/api/v1/devices/{d.InstallationId}")).GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Null);
        }
    }
}

[Collection(SqliteCollection.Name)]
public sealed class SimulatorTestsSqlite(SqliteHost host) : SimulatorTests(host);

[Collection(PostgresCollection.Name)]
public sealed class SimulatorTestsPostgres(PostgresHost host) : SimulatorTests(host);
