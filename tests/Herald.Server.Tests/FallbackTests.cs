using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Server.Campaigns;
using Herald.Sim.Providers;

namespace Herald.Tests;

/// <summary>R-MSG-8: the SMS / email fallback for users a push campaign did not reach, once per user.</summary>
public abstract class FallbackTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private LoopbackProviders P => host.Providers;

    private async Task<TestApp> AppAsync()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        foreach (var (channel, body) in new[] { ("fcm", P.FcmCredentials), ("apns", P.ApnsCredentials), ("sms", P.SmsCredentials) })
            (await rest.PutAsJsonAsync($"/api/v1/app/credentials/{channel}", body, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        return app;
    }

    private static string NewPhone() => "+9053" + Random.Shared.Next(10_000_000, 99_999_999);

    /// <summary>A user with a phone and <paramref name="devices"/> Android devices; returns the phone and the devices' tokens.</summary>
    private static async Task<(string Phone, List<string> Tokens)> UserAsync(TestApp app, string externalId, int devices, bool withPhone = true, string? locale = null)
    {
        var phone = NewPhone();
        using (var put = await app.Rest().PutAsJsonAsync($"/api/v1/users/{externalId}", withPhone ? new { phone, attributes = new { first_name = externalId } } : (object)new { attributes = new { first_name = externalId } }, Ct))
            put.StatusCode.ShouldBe(HttpStatusCode.OK, await put.Content.ReadAsStringAsync(Ct));
        var tokens = new List<string>();
        for (var i = 0; i < devices; i++)
        {
            var token = $"fcm-{Guid.NewGuid():N}";
            var id = (await app.Sdk().PostOk("/sdk/v1/devices", locale is null
                ? $$"""{"platform":"android","pushToken":"{{token}}","pushEnabled":true}"""
                : $$"""{"platform":"android","pushToken":"{{token}}","pushEnabled":true,"locale":"{{locale}}"}""")).GetProperty("installationId").GetString();
            await app.Sdk().PostOk("/sdk/v1/identify", $$"""{"installationId":"{{id}}","externalId":"{{externalId}}"}""");
            tokens.Add(token);
        }
        return (phone, tokens);
    }

    private static object Campaign(string[] users, int? afterSeconds = null) => new
    {
        name = "with fallback", channel = "push",
        content = new { title = "Sepet", body = "Sepetiniz sizi bekliyor" },
        audience = new { users },
        fallback = new { channel = "sms", content = new { body = "{{first_name}}, sepetiniz sizi bekliyor" }, afterSeconds },
    };

    private static async Task<JsonElement> ReportWhenAsync(TestApp app, long id, Func<JsonElement, bool> done)
    {
        for (var i = 0; i < 600; i++)
        {
            var r = await app.Rest().GetJson($"/api/v1/campaigns/{id}/report");
            if (done(r)) return r;
            await Task.Delay(50, Ct);
        }
        throw new TimeoutException("the report did not reach the expected state within 30 s: " + (await app.Rest().GetJson($"/api/v1/campaigns/{id}/report")) + (await app.Rest().GetJson($"/api/v1/campaigns/{id}/fallbacks")));
    }

    private static int Fallback(JsonElement report, string by, string key) =>
        report.GetProperty("fallback").GetProperty(by).TryGetProperty(key, out var n) ? n.GetInt32() : 0;

    [Fact]
    public async Task Users_the_push_did_not_reach_get_exactly_one_sms_and_the_others_none()
    {
        var app = await AppAsync();
        var (deadPhone, dead) = await UserAsync(app, "u-dead", 1);
        var (okPhone, _) = await UserAsync(app, "u-ok", 1);
        var (nonePhone, _) = await UserAsync(app, "u-none", 0);
        var (twoPhone, two) = await UserAsync(app, "u-two", 2);
        await UserAsync(app, "u-nophone", 0, withPhone: false);
        P.Fcm.Inject(dead[0], FcmFault.Unregistered);
        P.Fcm.Inject(two[0], FcmFault.Unregistered);

        var id = await app.CreateCampaignAsync(Campaign(["u-dead", "u-ok", "u-none", "u-two", "u-nophone"]));
        var plan = await app.Rest().PostOk($"/api/v1/campaigns/{id}/send", "{}");
        plan.GetProperty("queued").GetInt32().ShouldBe(4);
        var report = await ReportWhenAsync(app, id, r => r.GetProperty("state").GetString() == "sent"
            && Fallback(r, "byState", "sent") + Fallback(r, "byState", "skipped") == 3);

        report.GetProperty("failed").GetInt32().ShouldBe(2);
        var fb = report.GetProperty("fallback");
        fb.GetProperty("channel").GetString().ShouldBe("sms");
        fb.GetProperty("total").GetInt32().ShouldBe(3);
        Fallback(report, "byCause", FallbackCauses.PushFailed).ShouldBe(1);
        Fallback(report, "byCause", FallbackCauses.NoDevice).ShouldBe(2);
        Fallback(report, "byState", "sent").ShouldBe(2);
        Fallback(report, "skippedByReason", "no phone number").ShouldBe(1);

        P.Sms.Received.Count(s => s.To == deadPhone).ShouldBe(1);
        P.Sms.Received.Single(s => s.To == deadPhone).Text.ShouldBe("u-dead, sepetiniz sizi bekliyor");
        P.Sms.Received.Count(s => s.To == nonePhone).ShouldBe(1);
        P.Sms.Received.Any(s => s.To == okPhone || s.To == twoPhone).ShouldBeFalse();

        var list = await app.Rest().GetJson($"/api/v1/campaigns/{id}/fallbacks");
        list.EnumerateArray().Select(f => f.GetProperty("externalId").GetString()).Order().ShouldBe(["u-dead", "u-none", "u-nophone"]);

        // The same failure told again (a retried chunk, another node) records and sends nothing more.
        var deadUser = list.EnumerateArray().Single(f => f.GetProperty("externalId").GetString() == "u-dead").GetProperty("userOrdinal").GetInt32();
        var deadDevice = (await app.Rest().GetJson("/api/v1/users/u-dead")).GetProperty("devices")[0].GetProperty("ordinal").GetInt32();
        await host.Services.GetRequiredService<Fallbacks>().OnRecordedAsync(
            [new DeliveryRecord(app.Id, id, deadDevice, deadDevice, deadUser, "fcm", "failed", "token dead", Herald.Gateways.OutcomeKind.TokenDead)], Ct);
        await host.Services.GetRequiredService<FallbackWorker>().RunOnceAsync(Ct);
        P.Sms.Received.Count(s => s.To == deadPhone).ShouldBe(1);
        (await app.Rest().GetJson($"/api/v1/campaigns/{id}/fallbacks")).GetArrayLength().ShouldBe(3);
    }

    [Fact]
    public async Task The_fallback_text_follows_the_language_of_the_users_device()
    {
        var app = await AppAsync();
        var (trPhone, tr) = await UserAsync(app, "u-tr", 1, locale: "tr-TR");
        var (dePhone, de) = await UserAsync(app, "u-de", 1, locale: "de-DE");
        P.Fcm.Inject(tr[0], FcmFault.Unregistered);
        P.Fcm.Inject(de[0], FcmFault.Unregistered);
        var id = await app.CreateCampaignAsync(new
        {
            name = "localized fallback", channel = "push",
            content = new { title = "Cart", body = "Your cart is waiting" },
            audience = new { users = new[] { "u-tr", "u-de" } },
            fallback = new
            {
                channel = "sms",
                content = new { body = "{{first_name}}, your cart is waiting", locales = new Dictionary<string, object> { ["tr"] = new { body = "{{first_name}}, sepetiniz sizi bekliyor" } } },
            },
        });
        await app.Rest().PostOk($"/api/v1/campaigns/{id}/send", "{}");
        await ReportWhenAsync(app, id, r => Fallback(r, "byState", "sent") == 2);
        // Turkish for the tr-TR phone (its language's translation); the base text where there is none.
        P.Sms.Received.Single(s => s.To == trPhone).Text.ShouldBe("u-tr, sepetiniz sizi bekliyor");
        P.Sms.Received.Single(s => s.To == dePhone).Text.ShouldBe("u-de, your cart is waiting");

        // An SMS campaign picks its translation the same way.
        var sms = await app.CreateCampaignAsync(new
        {
            name = "localized sms", channel = "sms", audience = new { users = new[] { "u-tr", "u-de" } },
            content = new { body = "Sale today", locales = new Dictionary<string, object> { ["tr"] = new { body = "Bugün indirim" } } },
        });
        await app.Rest().PostOk($"/api/v1/campaigns/{sms}/send", "{}");
        await ReportWhenAsync(app, sms, r => r.GetProperty("state").GetString() == "sent");
        P.Sms.Received.Single(s => s.To == trPhone && s.Text.StartsWith("Bug", StringComparison.Ordinal)).Text.ShouldBe("Bugün indirim");
        P.Sms.Received.Count(s => s.To == dePhone && s.Text == "Sale today").ShouldBe(1);
    }

    [Fact]
    public async Task No_delivery_receipt_within_the_window_sends_the_fallback_and_a_receipt_prevents_it()
    {
        var app = await AppAsync();
        var (silentPhone, _) = await UserAsync(app, "u-silent", 1);
        var (receivedPhone, received) = await UserAsync(app, "u-received", 1);
        var id = await app.CreateCampaignAsync(Campaign(["u-silent", "u-received"], afterSeconds: 600));
        await app.Rest().PostOk($"/api/v1/campaigns/{id}/send", "{}");
        await ReportWhenAsync(app, id, r => r.GetProperty("state").GetString() == "sent");

        // The device reports the push as received.
        var messageId = P.Fcm.Received.Single(r => r.Token == received[0]).Data["herald_message_id"];
        var receivedDevice = (await app.Rest().GetJson("/api/v1/users/u-received")).GetProperty("devices")[0].GetProperty("installationId").GetString();
        await app.Sdk().PostOk("/sdk/v1/events", $$$"""{"installationId":"{{{receivedDevice}}}","events":[{"messageId":"r-{{{id}}}","name":"push_received","timestamp":"{{{host.Clock.GetUtcNow():O}}}","attributes":{"message_id":"{{{messageId}}}"}}]}""");

        var start = host.Clock.GetUtcNow();
        try
        {
            // Within the window nobody gets a fallback.
            var fallbacks = host.Services.GetRequiredService<Fallbacks>();
            host.Clock.Advance(TimeSpan.FromSeconds(599));
            await fallbacks.ScanWindowsAsync(Ct);
            (await app.Rest().GetJson($"/api/v1/campaigns/{id}/fallbacks")).GetArrayLength().ShouldBe(0);

            host.Clock.Advance(TimeSpan.FromSeconds(2));
            var report = await ReportWhenAsync(app, id, r => Fallback(r, "byState", "sent") == 1);
            Fallback(report, "byCause", FallbackCauses.NotDelivered).ShouldBe(1);
            P.Sms.Received.Count(s => s.To == silentPhone).ShouldBe(1);
            P.Sms.Received.Any(s => s.To == receivedPhone).ShouldBeFalse();
            // The watch is over once every window has passed: later scans add nothing.
            host.Clock.Advance(TimeSpan.FromHours(1));
            (await fallbacks.ScanWindowsAsync(Ct)).ShouldBe(0);
            P.Sms.Received.Count(s => s.To == silentPhone).ShouldBe(1);
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task A_bad_fallback_is_refused_when_the_campaign_is_saved()
    {
        var app = await AppAsync();
        async Task Refused(object fallback, HttpStatusCode status, string field, string channel = "push")
        {
            using var res = await app.Rest().PostAsJsonAsync("/api/v1/campaigns", new
            {
                name = "x", channel, content = new { subject = "s", body = "b", text = "t" }, audience = new { all = true }, fallback,
            }, Ct);
            await res.ShouldBeProblem(status, field);
        }
        await Refused(new { channel = "fax", content = new { body = "b" } }, HttpStatusCode.BadRequest, "fallback.channel");
        await Refused(new { channel = "sms", content = new { body = "" } }, HttpStatusCode.BadRequest, "fallback.content.body");
        await Refused(new { channel = "email", content = new { subject = "s" } }, HttpStatusCode.BadRequest, "fallback.content.html");
        await Refused(new { channel = "sms", content = new { body = "b" }, afterSeconds = 0 }, HttpStatusCode.BadRequest, "fallback.afterSeconds");
        await Refused(new { channel = "sms", content = new { body = "{{#if x}}open" } }, HttpStatusCode.UnprocessableEntity, "fallback.content.body");
        await Refused(new { channel = "sms", content = new { body = "b" } }, HttpStatusCode.BadRequest, "fallback", channel: "email");
    }
}

[Collection(SqliteCollection.Name)]
public sealed class FallbackTestsSqlite(SqliteHost host) : FallbackTests(host);

[Collection(PostgresCollection.Name)]
public sealed class FallbackTestsPostgres(PostgresHost host) : FallbackTests(host);
