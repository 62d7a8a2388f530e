using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Herald.Sim.Providers;

namespace Herald.Tests;

/// <summary>R-DLV-2: the silent-push uninstall sweep, stale Android tokens, re-installs and uninstalls per day.</summary>
public abstract class UninstallTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private LoopbackProviders P => host.Providers;

    private async Task<TestApp> PushAppAsync()
    {
        var app = await host.NewAppAsync();
        foreach (var (channel, body) in new[] { ("fcm", P.FcmCredentials), ("apns", P.ApnsCredentials) })
            (await app.Rest().PutAsJsonAsync($"/api/v1/app/credentials/{channel}", body, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        return app;
    }

    private static async Task<string> Register(TestApp app, object device) =>
        (await app.Sdk().PostOk("/sdk/v1/devices", JsonSerializer.Serialize(device))).GetProperty("installationId").GetString()!;

    private static async Task<(string Id, string Token)> Android(TestApp app)
    {
        var token = $"fcm-{Guid.NewGuid():N}";
        return (await Register(app, new { platform = "android", pushToken = token, pushEnabled = true }), token);
    }

    private static async Task<(string Id, string Token)> Ios(TestApp app)
    {
        var token = "beef" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(30));
        return (await Register(app, new { platform = "ios", pushToken = token, pushEnabled = true }), token);
    }

    private static async Task<JsonElement> Device(TestApp app, string id) => await app.Rest().GetJson($"/api/v1/devices/{id}");

    private static string Day(DateTimeOffset at) =>
        TimeZoneInfo.ConvertTime(at, TimeZoneInfo.FindSystemTimeZoneById("Europe/Istanbul")).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    [Fact]
    public async Task The_sweep_uninstalls_dead_tokens_and_never_devices_that_merely_did_not_answer()
    {
        // A node with a short provider timeout, so a device that never answers takes a second, not thirty.
        await using var node = host.NewNode(new Dictionary<string, string?> { ["Herald:Gateways:Http:RequestTimeout"] = "00:00:01" });
        var app = await PushAppAsync();
        var (deadAndroid, deadAndroidToken) = await Android(app);
        var (deadIos, deadIosToken) = await Ios(app);
        var (failing, failingToken) = await Android(app);
        var (unavailable, unavailableToken) = await Ios(app);
        var (silent, silentToken) = await Android(app);
        var (alive, aliveToken) = await Android(app);
        P.Fcm.Inject(deadAndroidToken, FcmFault.Unregistered);
        P.Apns.Inject(deadIosToken, ApnsFault.Unregistered);
        P.Fcm.Inject(failingToken, FcmFault.Internal);
        P.Apns.Inject(unavailableToken, ApnsFault.ServiceUnavailable);
        P.Fcm.Inject(silentToken, FcmFault.Slow(TimeSpan.FromSeconds(5)));
        var start = host.Clock.GetUtcNow();
        try
        {
            host.Clock.Advance(TimeSpan.FromDays(31));
            var (recent, recentToken) = await Android(app); // seen today: not checked
            var rest = node.CreateClient();
            rest.DefaultRequestHeaders.Authorization = new("Bearer", app.RestKey);

            var r = await rest.PostOk("/api/v1/app/uninstall-sweep", "{}");
            r.GetProperty("checked").GetInt32().ShouldBe(6, r.ToString());
            r.GetProperty("uninstalled").GetInt32().ShouldBe(2);
            r.GetProperty("reachable").GetInt32().ShouldBe(1);
            r.GetProperty("unreachable").GetInt32().ShouldBe(3);

            foreach (var id in new[] { deadAndroid, deadIos })
            {
                var d = await Device(app, id);
                d.GetProperty("uninstalledAt").GetInt64().ShouldBe(host.Clock.GetUtcNow().ToUnixTimeMilliseconds());
                d.GetProperty("uninstallReason").GetString().ShouldNotBeNullOrWhiteSpace();
            }
            foreach (var id in new[] { failing, unavailable, silent, alive, recent })
                (await Device(app, id)).GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Null, id);

            // The check is silent: a data-only FCM message, a background APNs push.
            var ping = P.Fcm.Received.Single(m => m.Token == aliveToken).Message;
            ping.TryGetProperty("notification", out _).ShouldBeFalse();
            ping.GetProperty("data").GetProperty("herald_cmd").GetString().ShouldBe("ping");
            P.Apns.Received.Where(m => m.Token == unavailableToken).ShouldAllBe(m => m.PushType == "background");
            P.Fcm.Received.Any(m => m.Token == recentToken).ShouldBeFalse();

            // Checked devices are not pinged again by the next sweep.
            (await rest.PostOk("/api/v1/app/uninstall-sweep", "{}")).GetProperty("checked").GetInt32().ShouldBe(0);
            P.Fcm.Received.Count(m => m.Token == aliveToken).ShouldBe(1);
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task Stale_android_tokens_are_not_sent_to_and_are_counted()
    {
        var app = await PushAppAsync();
        var (_, staleToken) = await Android(app);
        var (_, iosToken) = await Ios(app);
        var start = host.Clock.GetUtcNow();
        try
        {
            host.Clock.Advance(TimeSpan.FromDays(271));
            var (_, freshToken) = await Android(app);
            using var created = await app.Rest().PostAsJsonAsync("/api/v1/campaigns",
                new { name = "n", channel = "push", content = new { title = "t", body = "b" }, audience = new { all = true } }, Ct);
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
            (await app.Rest().PostOk($"/api/v1/campaigns/{id}/audience", "{}")).GetProperty("recipients").GetInt32().ShouldBe(2);
            var plan = await app.Rest().PostOk($"/api/v1/campaigns/{id}/send", "{}");
            plan.GetProperty("queued").GetInt32().ShouldBe(2);
            plan.GetProperty("skipped").GetProperty(Herald.Server.Campaigns.Fallbacks.StaleToken).GetInt32().ShouldBe(1);
            for (var i = 0; i < 600 && (await app.Rest().GetJson($"/api/v1/campaigns/{id}/report")).GetProperty("state").GetString() != "sent"; i++)
                await Task.Delay(50, Ct);
            P.Fcm.Received.Count(m => m.Token == freshToken).ShouldBe(1);
            P.Apns.Received.Count(m => m.Token == iosToken).ShouldBe(1);

            // Nor does the sweep ping it; it is counted as stale.
            var sweep = await app.Rest().PostOk("/api/v1/app/uninstall-sweep", "{}");
            sweep.GetProperty("stale").GetInt32().ShouldBe(1);
            sweep.GetProperty("checked").GetInt32().ShouldBe(1); // the iOS device, not seen for 271 days
            P.Fcm.Received.Any(m => m.Token == staleToken).ShouldBeFalse();
            (await app.Rest().GetJson("/api/v1/analytics/uninstalls")).GetProperty("staleAndroidTokens").GetInt32().ShouldBe(1);
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task A_device_back_with_a_new_token_is_a_new_installation_and_counts_as_a_reinstall_per_day()
    {
        var app = await PushAppAsync();
        var rest = app.Rest();
        var start = host.Clock.GetUtcNow();
        try
        {
            // Day 1: two devices of user u-re are found uninstalled (dead tokens on a test push).
            var (first, firstToken) = await Android(app);
            var (second, secondToken) = await Android(app);
            foreach (var id in new[] { first, second })
                await app.Sdk().PostOk("/sdk/v1/identify", $$"""{"installationId":"{{id}}","externalId":"u-re"}""");
            P.Fcm.Inject(firstToken, FcmFault.Unregistered);
            P.Fcm.Inject(secondToken, FcmFault.Unregistered);
            foreach (var id in new[] { first, second })
                (await rest.PostOk($"/api/v1/devices/{id}/test-push", """{"title":"x"}""")).GetProperty("deviceUninstalled").GetBoolean().ShouldBeTrue();
            var day1 = Day(host.Clock.GetUtcNow());

            // Day 2: the first comes back under its old installation id with a new token; the second
            // (its installation id lost with the app) registers afresh and signs in as the same user.
            host.Clock.Advance(TimeSpan.FromDays(1));
            var day2 = Day(host.Clock.GetUtcNow());
            var back = await Register(app, new { installationId = first, platform = "android", pushToken = $"fcm-{Guid.NewGuid():N}", pushEnabled = true });
            back.ShouldNotBe(first);
            var old = await Device(app, first);
            old.GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Number);
            var fresh = await Device(app, back);
            fresh.GetProperty("reinstalledAt").GetInt64().ShouldBe(host.Clock.GetUtcNow().ToUnixTimeMilliseconds());
            fresh.GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Null);
            fresh.GetProperty("externalId").GetString().ShouldBe("u-re");
            (await rest.PostOk($"/api/v1/devices/{back}/test-push", """{"title":"x"}""")).GetProperty("outcome").GetString().ShouldBe("Delivered");

            var (again, _) = await Android(app);
            (await Device(app, again)).GetProperty("reinstalledAt").ValueKind.ShouldBe(JsonValueKind.Null);
            await app.Sdk().PostOk("/sdk/v1/identify", $$"""{"installationId":"{{again}}","externalId":"u-re"}""");
            (await Device(app, again)).GetProperty("reinstalledAt").GetInt64().ShouldBe(host.Clock.GetUtcNow().ToUnixTimeMilliseconds());
            // A third device of the same user is not a re-install: both uninstalled devices are accounted for.
            var (third, _) = await Android(app);
            await app.Sdk().PostOk("/sdk/v1/identify", $$"""{"installationId":"{{third}}","externalId":"u-re"}""");
            (await Device(app, third)).GetProperty("reinstalledAt").ValueKind.ShouldBe(JsonValueKind.Null);

            var series = await rest.GetJson($"/api/v1/analytics/uninstalls?from={day1}&to={day2}");
            series.GetProperty("uninstalls").GetInt32().ShouldBe(2);
            series.GetProperty("reinstalls").GetInt32().ShouldBe(2);
            var days = series.GetProperty("days").EnumerateArray().Select(d => (d.GetProperty("date").GetString(), d.GetProperty("uninstalls").GetInt32(), d.GetProperty("reinstalls").GetInt32())).ToList();
            days.ShouldBe([(day1, 2, 0), (day2, 0, 2)]);

            await (await rest.GetAsync($"/api/v1/analytics/uninstalls?from={day2}&to={day1}", Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "from");
            await (await rest.GetAsync("/api/v1/analytics/uninstalls?from=2026-13-01", Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "from");
            await (await rest.GetAsync("/api/v1/analytics/uninstalls?from=2024-01-01&to=2026-01-01", Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "to");
        }
        finally
        {
            host.Clock.Set(start);
        }
    }
}

[Collection(SqliteCollection.Name)]
public sealed class UninstallTestsSqlite(SqliteHost host) : UninstallTests(host);

[Collection(PostgresCollection.Name)]
public sealed class UninstallTestsPostgres(PostgresHost host) : UninstallTests(host);
