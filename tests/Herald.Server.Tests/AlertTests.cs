using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Server.Accounts;
using Herald.Server.Alerts;
using Herald.Sim.Providers;
using Herald.Sim.Providers.Smtp;

namespace Herald.Tests;

/// <summary>Alerts (R-DLV-4): incidents from campaign failure rates and refused credentials, sent once to a webhook and by email.</summary>
public abstract class AlertTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private LoopbackProviders P => host.Providers;

    private async Task<TestApp> AppAsync(WebhookReceiver? hook, SmtpTestServer? smtp = null, string[]? emails = null)
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        (await rest.PutAsJsonAsync("/api/v1/app/credentials/fcm", P.FcmCredentials, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        if (smtp is not null)
            (await rest.PutAsJsonAsync("/api/v1/app/credentials/smtp", new { host = smtp.Host, port = smtp.Port, from = "alerts@shop.example", startTls = false }, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        using var res = await rest.PutAsJsonAsync("/api/v1/app/alert-settings", new { webhookUrl = hook?.Url.ToString(), emails = emails ?? [] }, Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.OK, await res.Content.ReadAsStringAsync(Ct));
        return app;
    }

    private static async Task<(string Id, string Token)> Android(TestApp app)
    {
        var token = $"fcm-{Guid.NewGuid():N}";
        var id = (await app.Sdk().PostOk("/sdk/v1/devices", $$"""{"platform":"android","pushToken":"{{token}}","pushEnabled":true}""")).GetProperty("installationId").GetString()!;
        return (id, token);
    }

    /// <summary><paramref name="devices"/> Android devices; those whose index <paramref name="fails"/> picks answer <paramref name="fault"/>.</summary>
    private async Task<List<(string Id, string Token)>> DevicesAsync(TestApp app, int devices, Func<int, bool> fails, FcmFault fault)
    {
        var list = new List<(string, string)>();
        for (var i = 0; i < devices; i++)
        {
            var d = await Android(app);
            if (fails(i)) P.Fcm.Inject(d.Token, fault);
            list.Add(d);
        }
        return list;
    }

    private static async Task<long> SendCampaignAsync(TestApp app, string name)
    {
        using var res = await app.Rest().PostAsJsonAsync("/api/v1/campaigns", new
        {
            name, channel = "push", content = new { title = "Kampanya", body = "Sepetiniz sizi bekliyor" }, audience = new { all = true }, schedule = new { type = "now" },
        }, Ct);
        var body = await res.Content.ReadFromJsonAsync<JsonElement>(Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.Created, body.ToString());
        var id = body.GetProperty("id").GetInt64();
        await app.Rest().PostOk($"/api/v1/campaigns/{id}/send", "{}");
        return id;
    }

    private static async Task<JsonElement> WhenAsync(TestApp app, string url, Func<JsonElement, bool> done)
    {
        for (var i = 0; i < 600; i++)
        {
            var r = await app.Rest().GetJson(url);
            if (done(r)) return r;
            await Task.Delay(50, Ct);
        }
        throw new TimeoutException($"{url} did not reach the expected state within 30 s");
    }

    private static Task<JsonElement> AlertsWhenAsync(TestApp app, Func<JsonElement, bool> done) => WhenAsync(app, "/api/v1/alerts", done);

    private static bool AllNotified(JsonElement alerts, int count) =>
        alerts.GetArrayLength() == count && alerts.EnumerateArray().All(a => a.GetProperty("notifiedAt").ValueKind == JsonValueKind.Number);

    private Task NotifierRoundAsync() => host.Services.GetRequiredService<AlertNotifier>().RunOnceAsync(Ct);

    [Fact]
    public async Task A_campaign_failing_30_percent_of_sends_alerts_once_by_webhook_and_email()
    {
        await using var hook = await WebhookReceiver.StartAsync();
        await using var smtp = await SmtpTestServer.StartAsync();
        var app = await AppAsync(hook, smtp, ["ops@example.com"]);
        await DevicesAsync(app, 200, i => i % 10 < 3, FcmFault.InvalidArgument);
        var campaign = await SendCampaignAsync(app, "Kış indirimi");

        var report = await WhenAsync(app, $"/api/v1/campaigns/{campaign}/report", r => r.GetProperty("state").GetString() == "sent");
        report.GetProperty("failed").GetInt32().ShouldBe(60);
        await AlertsWhenAsync(app, a => AllNotified(a, 1));
        // More rounds change nothing: the incident was notified once.
        await NotifierRoundAsync();
        await NotifierRoundAsync();

        var alert = (await app.Rest().GetJson("/api/v1/alerts")).EnumerateArray().ShouldHaveSingleItem();
        alert.GetProperty("kind").GetString().ShouldBe(AlertKinds.CampaignFailureRate);
        alert.GetProperty("campaignId").GetInt64().ShouldBe(campaign);
        alert.GetProperty("open").GetBoolean().ShouldBeTrue();
        alert.GetProperty("notified").EnumerateArray().Select(t => t.GetString()).ShouldBe([$"ok webhook {hook.Url}", "ok email ops@example.com"], ignoreOrder: true);

        var post = hook.Received.ShouldHaveSingleItem();
        post.ContentType.ShouldStartWith("application/json");
        post.Headers["X-Herald-Alert-Id"].ShouldBe(alert.GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture));
        var b = post.Body;
        b.GetProperty("id").GetInt64().ShouldBe(alert.GetProperty("id").GetInt64());
        b.GetProperty("kind").GetString().ShouldBe("campaign_failure_rate");
        b.GetProperty("status").GetString().ShouldBe("open");
        b.GetProperty("app").GetProperty("id").GetInt64().ShouldBe(app.Id);
        b.GetProperty("campaign").GetProperty("id").GetInt64().ShouldBe(campaign);
        b.GetProperty("campaign").GetProperty("name").GetString().ShouldBe("Kış indirimi");
        b.GetProperty("provider").ValueKind.ShouldBe(JsonValueKind.Null);
        b.GetProperty("reason").GetString()!.ShouldStartWith("invalid:");
        b.GetProperty("reasons")[0].GetProperty("count").GetInt64().ShouldBe(b.GetProperty("counts").GetProperty("failed").GetInt64());
        var total = b.GetProperty("counts").GetProperty("total").GetInt64();
        total.ShouldBeGreaterThanOrEqualTo(50);
        b.GetProperty("rate").GetDouble().ShouldBeGreaterThanOrEqualTo(0.2);
        b.GetProperty("threshold").GetDouble().ShouldBe(0.2);
        b.GetProperty("windowSeconds").GetInt32().ShouldBe(300);

        var mail = smtp.Messages().ShouldHaveSingleItem();
        mail.RcptTos.ShouldBe(["ops@example.com"]);
        mail.Subject.ShouldContain("Kış indirimi");
        mail.Subject.ShouldContain("failure rate");
        mail.Parts.ShouldContain(p => p.Content.Contains("invalid:"));
    }

    [Fact]
    public async Task Failures_below_the_threshold_open_no_incident()
    {
        await using var hook = await WebhookReceiver.StartAsync();
        var app = await AppAsync(hook);
        await DevicesAsync(app, 100, i => i % 20 == 19, FcmFault.InvalidArgument);
        var campaign = await SendCampaignAsync(app, "Az hata");
        var report = await WhenAsync(app, $"/api/v1/campaigns/{campaign}/report", r => r.GetProperty("state").GetString() == "sent");
        report.GetProperty("failed").GetInt32().ShouldBe(5);
        await NotifierRoundAsync();
        (await app.Rest().GetJson("/api/v1/alerts")).GetArrayLength().ShouldBe(0);
        hook.Received.ShouldBeEmpty();
    }

    [Fact]
    public async Task An_apps_own_threshold_alerts_on_a_failure_rate_below_the_installations()
    {
        await using var hook = await WebhookReceiver.StartAsync();
        var app = await AppAsync(hook);
        await (await app.Rest().PutAsJsonAsync("/api/v1/app/alert-settings", new { webhookUrl = hook.Url.ToString(), campaignFailureRate = 1.5 }, Ct))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "campaignFailureRate");
        await (await app.Rest().PutAsJsonAsync("/api/v1/app/alert-settings", new { webhookUrl = hook.Url.ToString(), providerErrorRate = 0 }, Ct))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "providerErrorRate");
        using (var set = await app.Rest().PutAsJsonAsync("/api/v1/app/alert-settings", new { webhookUrl = hook.Url.ToString(), campaignFailureRate = 0.05 }, Ct))
        {
            var view = await set.Content.ReadFromJsonAsync<JsonElement>(Ct);
            set.StatusCode.ShouldBe(HttpStatusCode.OK, view.ToString());
            view.GetProperty("campaignFailureRate").GetDouble().ShouldBe(0.05);
            view.GetProperty("providerErrorRate").ValueKind.ShouldBe(JsonValueKind.Null);
            view.GetProperty("defaults").GetProperty("campaignFailureRate").GetDouble().ShouldBe(0.2);
        }
        // One in ten fails: under the installation's 20%, over this app's 5%.
        await DevicesAsync(app, 100, i => i % 10 == 9, FcmFault.InvalidArgument);
        var campaign = await SendCampaignAsync(app, "Kendi eşiği");
        var report = await WhenAsync(app, $"/api/v1/campaigns/{campaign}/report", r => r.GetProperty("state").GetString() == "sent");
        report.GetProperty("failed").GetInt32().ShouldBe(10);
        var alerts = await AlertsWhenAsync(app, a => a.GetArrayLength() == 1);
        alerts[0].GetProperty("kind").GetString().ShouldBe(AlertKinds.CampaignFailureRate);
        alerts[0].GetProperty("threshold").GetDouble().ShouldBe(0.05);
        await NotifierRoundAsync();
        hook.Received.Count.ShouldBe(1);
    }

    [Fact]
    public async Task Refused_credentials_open_one_credential_incident_across_campaign_and_test_sends()
    {
        await using var hook = await WebhookReceiver.StartAsync();
        var app = await AppAsync(hook);
        var devices = await DevicesAsync(app, 3, _ => true, FcmFault.ThirdPartyAuthError);
        var campaign = await SendCampaignAsync(app, "Yetkisiz");
        await AlertsWhenAsync(app, a => AllNotified(a, 1) && a[0].GetProperty("failed").GetInt64() == 3);
        // A test send hitting the same refusal belongs to the same incident.
        (await app.Rest().PostOk($"/api/v1/devices/{devices[0].Id}/test-push", """{"title":"t"}""")).GetProperty("outcome").GetString().ShouldBe("ConfigError");
        await NotifierRoundAsync();

        var alert = (await app.Rest().GetJson("/api/v1/alerts?state=open")).EnumerateArray().ShouldHaveSingleItem();
        alert.GetProperty("kind").GetString().ShouldBe(AlertKinds.CredentialError);
        alert.GetProperty("provider").GetString().ShouldBe("fcm");
        alert.GetProperty("failed").GetInt64().ShouldBe(4);
        alert.GetProperty("reason").GetString()!.ShouldStartWith("401");
        var b = hook.Received.ShouldHaveSingleItem().Body;
        b.GetProperty("kind").GetString().ShouldBe("credential_error");
        b.GetProperty("provider").GetString().ShouldBe("fcm");
        b.GetProperty("campaign").ValueKind.ShouldBe(JsonValueKind.Null);
        (await app.Rest().GetJson($"/api/v1/alerts/{alert.GetProperty("id").GetInt64()}")).GetProperty("kind").GetString().ShouldBe("credential_error");
        await app.Rest().PostOk($"/api/v1/campaigns/{campaign}/stop", """{"reason":"bad credentials"}""");
    }

    [Fact]
    public async Task A_failed_webhook_is_retried_and_a_quiet_window_resolves_the_incident_so_the_next_error_is_a_new_one()
    {
        await using var hook = await WebhookReceiver.StartAsync();
        var app = await AppAsync(hook);
        var (device, token) = await Android(app);
        P.Fcm.Inject(token, FcmFault.ThirdPartyAuthError);
        hook.FailNext(1);
        await app.Rest().PostOk($"/api/v1/devices/{device}/test-push", """{"title":"t"}""");
        var pending = await AlertsWhenAsync(app, a => a.GetArrayLength() == 1 && a[0].GetProperty("notifyError").ValueKind == JsonValueKind.String);
        pending[0].GetProperty("notifiedAt").ValueKind.ShouldBe(JsonValueKind.Null);
        pending[0].GetProperty("notifyError").GetString()!.ShouldContain("HTTP 503");
        hook.Received.ShouldBeEmpty();

        // The retry is due after RetryDelay (30 s).
        host.Clock.Advance(TimeSpan.FromSeconds(31));
        await NotifierRoundAsync();
        (await hook.WaitForAsync(1)).Count.ShouldBe(1);
        (await AlertsWhenAsync(app, a => AllNotified(a, 1)))[0].GetProperty("open").GetBoolean().ShouldBeTrue();

        // Quiet for a window (5 min, plus its 30 s step): resolved. The next refusal is a new incident, sent again.
        host.Clock.Advance(TimeSpan.FromMinutes(6));
        await NotifierRoundAsync();
        (await app.Rest().GetJson("/api/v1/alerts?state=open")).GetArrayLength().ShouldBe(0);
        await app.Rest().PostOk($"/api/v1/devices/{device}/test-push", """{"title":"t"}""");
        var both = await AlertsWhenAsync(app, a => AllNotified(a, 2));
        both[0].GetProperty("open").GetBoolean().ShouldBeTrue();
        both[1].GetProperty("resolvedAt").GetInt64().ShouldBe(host.Clock.GetUtcNow().ToUnixTimeMilliseconds());
        (await hook.WaitForAsync(2)).Select(r => r.Body.GetProperty("id").GetInt64()).ShouldBe([both[1].GetProperty("id").GetInt64(), both[0].GetProperty("id").GetInt64()]);
    }

    [Fact]
    public async Task A_provider_answering_5xx_to_a_third_of_sends_opens_one_provider_incident()
    {
        await using var hook = await WebhookReceiver.StartAsync();
        var app = await AppAsync(hook);
        await DevicesAsync(app, 120, i => i % 3 == 0, FcmFault.Unavailable);
        var campaign = await SendCampaignAsync(app, "Servis hatası");
        await WhenAsync(app, $"/api/v1/campaigns/{campaign}/report", r => r.GetProperty("sent").GetInt32() == 80);
        await AlertsWhenAsync(app, a => AllNotified(a, 1));
        await NotifierRoundAsync();

        // Retried messages are not failures of the campaign (yet): only the provider's incident opens.
        var alert = (await app.Rest().GetJson("/api/v1/alerts")).EnumerateArray().ShouldHaveSingleItem();
        alert.GetProperty("kind").GetString().ShouldBe(AlertKinds.ProviderErrorRate);
        alert.GetProperty("provider").GetString().ShouldBe("fcm");
        alert.GetProperty("total").GetInt64().ShouldBeGreaterThanOrEqualTo(100);
        alert.GetProperty("rate").GetDouble().ShouldBeGreaterThanOrEqualTo(0.25);
        var b = hook.Received.ShouldHaveSingleItem().Body;
        b.GetProperty("kind").GetString().ShouldBe("provider_error_rate");
        b.GetProperty("threshold").GetDouble().ShouldBe(0.25);
        await app.Rest().PostOk($"/api/v1/campaigns/{campaign}/stop", """{"reason":"provider down"}""");
    }

    [Fact]
    public async Task Two_nodes_each_below_the_minimum_together_cross_it_and_open_one_incident()
    {
        var app = await host.NewAppAsync();
        await using var second = host.NewNode();
        var monitors = new[] { host.Services.GetRequiredService<AlertMonitor>(), second.Services.GetRequiredService<AlertMonitor>() };
        // 30 sends on each node, 9 failing (30%): each node alone is under the 50-send minimum.
        List<Herald.Server.Campaigns.DeliveryRecord> Half(int offset) => [.. Enumerable.Range(offset, 30).Select(i => new Herald.Server.Campaigns.DeliveryRecord(
            app.Id, 4242, i, i, null, "fcm", i % 10 < 3 ? Herald.Server.Campaigns.DeliveryStates.Failed : Herald.Server.Campaigns.DeliveryStates.Sent,
            i % 10 < 3 ? "invalid: bad payload" : null, i % 10 < 3 ? Herald.Gateways.OutcomeKind.Invalid : Herald.Gateways.OutcomeKind.Delivered))];
        await monitors[0].OnRecordedAsync(Half(0), Ct);
        (await app.Rest().GetJson("/api/v1/alerts")).GetArrayLength().ShouldBe(0);
        await monitors[1].OnRecordedAsync(Half(30), Ct);
        var incident = (await app.Rest().GetJson("/api/v1/alerts")).EnumerateArray().Single();
        incident.GetProperty("kind").GetString().ShouldBe(AlertKinds.CampaignFailureRate);
        incident.GetProperty("failed").GetInt64().ShouldBe(18);
        incident.GetProperty("total").GetInt64().ShouldBe(60);
        incident.ToString().ShouldContain("invalid: bad payload");
    }

    [Fact]
    public async Task Two_nodes_crossing_the_same_threshold_open_one_incident()
    {
        var app = await host.NewAppAsync();
        await using var second = host.NewNode();
        var nodes = new[] { host.Services.GetRequiredService<AlertService>(), second.Services.GetRequiredService<AlertService>() };
        var snapshot = new Herald.Domain.Alerts.RateSnapshot(30, 100, [new("invalid: x", 30)]);
        var opened = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            nodes[i % 2].RaiseAsync(app.Id, AlertKinds.CampaignFailureRate, "campaign:77", 77, null, snapshot, 0.2, Ct)));
        opened.Count(o => o).ShouldBe(1);
        (await app.Rest().GetJson("/api/v1/alerts")).GetArrayLength().ShouldBe(1);
    }

    [Fact]
    public async Task The_panel_lists_incidents_and_only_admins_change_where_alerts_go()
    {
        var app = await AppAsync(null);
        var (device, token) = await Android(app);
        P.Fcm.Inject(token, FcmFault.ThirdPartyAuthError);
        await app.Rest().PostOk($"/api/v1/devices/{device}/test-push", """{"title":"t"}""");
        await AlertsWhenAsync(app, a => AllNotified(a, 1));

        var owner = await PanelAccounts.OwnerAsync(host);
        var viewer = PanelClient.For(host);
        await viewer.LoginAsync((await PanelAccounts.MemberAsync(host, app.Id, Roles.Viewer, owner)).Email, PanelAccounts.Password);
        var admin = PanelClient.For(host);
        await admin.LoginAsync((await PanelAccounts.MemberAsync(host, app.Id, Roles.Admin, owner)).Email, PanelAccounts.Password);

        var url = $"/panel/apps/{app.Id}/alerts";
        var page = await viewer.GetAsync(url);
        page.Status.ShouldBe(HttpStatusCode.OK);
        page.Body.ShouldContain("id=\"alerts\"");
        page.Body.ShouldContain("Credentials refused");
        page.Body.ShouldContain("no webhook or email configured");
        page.Body.ShouldContain($"href=\"/panel/apps/{app.Id}/alerts\"");

        var form = new Dictionary<string, string> { ["webhookUrl"] = "https://ops.example/herald", ["emails"] = "ops@example.com, oncall@example.com" };
        (await viewer.PostFormAsync(url, form, url + "?handler=settings")).Status.ShouldBe(HttpStatusCode.Forbidden);
        var saved = await admin.PostFormAsync(url, form, url + "?handler=settings");
        saved.Status.ShouldBe(HttpStatusCode.OK);
        saved.Body.ShouldContain("Alert settings saved.");
        var settings = await app.Rest().GetJson("/api/v1/app/alert-settings");
        settings.GetProperty("webhookUrl").GetString().ShouldBe("https://ops.example/herald");
        settings.GetProperty("emails").EnumerateArray().Select(e => e.GetString()).ShouldBe(["ops@example.com", "oncall@example.com"]);

        var bad = await admin.PostFormAsync(url, new Dictionary<string, string> { ["webhookUrl"] = "ftp://nope" }, url + "?handler=settings");
        bad.Status.ShouldBe(HttpStatusCode.BadRequest);
        bad.Body.ShouldContain("webhookUrl must be an absolute http or https URL");
    }

    [Fact]
    public async Task A_bad_alert_setting_stops_start_up_naming_the_key()
    {
        foreach (var (key, value) in new[] { ("Herald:Alerts:Window", "00:00:01"), ("Herald:Alerts:WebhookUrl", "ops.example/hook") })
        {
            await using var node = host.NewNode(new Dictionary<string, string?> { [key] = value });
            Should.Throw<Microsoft.Extensions.Options.OptionsValidationException>(() => node.Server).Message.ShouldContain(key);
        }
    }

    [Fact]
    public async Task Bad_alert_input_is_a_problem_naming_the_field_and_other_apps_alerts_are_404()
    {
        var app = await AppAsync(null);
        var rest = app.Rest();
        async Task Bad(object body, string field)
        {
            using var res = await rest.PutAsJsonAsync("/api/v1/app/alert-settings", body, Ct);
            await res.ShouldBeProblem(HttpStatusCode.BadRequest, field);
        }
        await Bad(new { webhookUrl = "not a url" }, "webhookUrl");
        await Bad(new { webhookUrl = "https://x.example/" + new string('a', 2000) }, "webhookUrl");
        await Bad(new { emails = new[] { "ok@example.com", "nope" } }, "emails[1]");
        await Bad(new { emails = Enumerable.Range(0, 11).Select(i => $"o{i}@example.com").ToArray() }, "emails");
        using (var s = await rest.GetAsync("/api/v1/alerts?state=bogus", Ct)) await s.ShouldBeProblem(HttpStatusCode.BadRequest, "state");
        using (var l = await rest.GetAsync("/api/v1/alerts?limit=0", Ct)) await l.ShouldBeProblem(HttpStatusCode.BadRequest, "limit");

        var (device, token) = await Android(app);
        P.Fcm.Inject(token, FcmFault.ThirdPartyAuthError);
        await rest.PostOk($"/api/v1/devices/{device}/test-push", """{"title":"t"}""");
        var id = (await AlertsWhenAsync(app, a => a.GetArrayLength() == 1))[0].GetProperty("id").GetInt64();
        var other = await host.NewAppAsync();
        using var foreign = await other.Rest().GetAsync($"/api/v1/alerts/{id}", Ct);
        await foreign.ShouldBeProblem(HttpStatusCode.NotFound);
        (await other.Rest().GetJson("/api/v1/alerts")).GetArrayLength().ShouldBe(0);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class AlertTestsSqlite(SqliteHost host) : AlertTests(host);

[Collection(PostgresCollection.Name)]
public sealed class AlertTestsPostgres(PostgresHost host) : AlertTests(host);
