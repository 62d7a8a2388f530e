using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Dapper;
using Herald.Sim.Providers;

namespace Herald.Tests;

public abstract class CampaignSendTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private LoopbackProviders P => host.Providers;

    private async Task<TestApp> PushAppAsync(object? limits = null)
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        foreach (var (channel, body) in new[] { ("fcm", P.FcmCredentials), ("apns", P.ApnsCredentials), ("vapid", LoopbackProviders.VapidCredentials) })
            (await rest.PutAsJsonAsync($"/api/v1/app/credentials/{channel}", body, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        if (limits is not null)
            (await rest.PatchAsJsonAsync("/api/v1/app", new { limits }, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        return app;
    }

    private static async Task<(string Id, string Token)> Android(TestApp app, string? user = null, string? name = null, string tz = "Europe/Istanbul")
    {
        var token = $"fcm-{Guid.NewGuid():N}";
        var id = (await app.Sdk().PostOk("/sdk/v1/devices", $$$"""{"platform":"android","pushToken":"{{{token}}}","pushEnabled":true,"timezone":"{{{tz}}}","locale":"tr-TR"}""")).GetProperty("installationId").GetString()!;
        if (user is not null)
            await app.Sdk().PostOk("/sdk/v1/identify", $$$"""{"installationId":"{{{id}}}","externalId":"{{{user}}}","attributes":{"first_name":"{{{name ?? user}}}"}}""");
        return (id, token);
    }

    private static async Task<(string Id, string Token)> Ios(TestApp app, string tz = "Asia/Tokyo")
    {
        var token = "beef" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(30));
        var id = (await app.Sdk().PostOk("/sdk/v1/devices", $$$"""{"platform":"ios","pushToken":"{{{token}}}","pushEnabled":true,"timezone":"{{{tz}}}"}""")).GetProperty("installationId").GetString()!;
        return (id, token);
    }

    private static async Task<JsonElement> SendAsync(TestApp app, long id) => await app.Rest().PostOk($"/api/v1/campaigns/{id}/send", "{}");

    private static Task<JsonElement> ReportWhenAsync(TestApp app, long id, Func<JsonElement, bool> done) => app.ReportWhenAsync(id, done);

    private static object Push(object audience, string title = "Merhaba {{ first_name | default: 'dostum' }}", bool urgent = false, object? schedule = null) => new
    {
        name = "send test", channel = "push", urgent,
        content = new { title, body = "Sepetiniz sizi bekliyor" },
        audience, schedule = schedule ?? new { type = "now" },
    };

    [Fact]
    public async Task Send_all_reaches_every_reachable_device_once_and_nobody_else()
    {
        var app = await PushAppAsync();
        var (_, ayse) = await Android(app, "u-ayse", "Ayşe");
        var (_, anon) = await Android(app);
        var (_, ios) = await Ios(app);
        // Not reachable: push disabled, no token.
        await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"android","pushToken":"off-token","pushEnabled":false}""");
        await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"ios","pushEnabled":true}""");
        var other = await PushAppAsync();
        var (_, foreign) = await Android(other);

        var id = await app.CreateCampaignAsync(Push(new { all = true }));
        (await app.Rest().PostOk($"/api/v1/campaigns/{id}/audience", "{}")).GetProperty("recipients").GetInt32().ShouldBe(3);
        var plan = await SendAsync(app, id);
        plan.GetProperty("queued").GetInt32().ShouldBe(3);
        var report = await ReportWhenAsync(app, id, r => r.GetProperty("state").GetString() == "sent");
        report.GetProperty("sent").GetInt32().ShouldBe(3);
        report.GetProperty("targeted").GetInt32().ShouldBe(3);

        P.Fcm.Received.Count(r => r.Token == ayse).ShouldBe(1);
        P.Fcm.Received.Single(r => r.Token == ayse).Message.GetProperty("notification").GetProperty("title").GetString().ShouldBe("Merhaba Ayşe");
        P.Fcm.Received.Single(r => r.Token == anon).Message.GetProperty("notification").GetProperty("title").GetString().ShouldBe("Merhaba dostum");
        P.Apns.Received.Count(r => r.Token == ios).ShouldBe(1);
        P.Fcm.Received.Any(r => r.Token is "off-token" || r.Token == foreign).ShouldBeFalse();

        var history = (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("history").EnumerateArray().Select(h => h.GetProperty("to").GetString()).ToList();
        history.ShouldBe(["draft", "sending", "sent"]);
        // A campaign is sent once.
        await (await app.Rest().PostAsync($"/api/v1/campaigns/{id}/send", Http.Json("{}"), Ct)).ShouldBeProblem(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Frequency_caps_skip_with_the_reason_and_a_dead_token_uninstalls_the_device()
    {
        var app = await PushAppAsync(new { maxPushesPerUserPerDay = 1 });
        var (_, capped) = await Android(app, "u-cap");
        var (deadId, dead) = await Android(app, "u-dead");
        P.Fcm.Inject(dead, FcmFault.Unregistered);

        var first = await app.CreateCampaignAsync(Push(new { users = new[] { "u-cap" } }));
        await SendAsync(app, first);
        await ReportWhenAsync(app, first, r => r.GetProperty("state").GetString() == "sent");

        var second = await app.CreateCampaignAsync(Push(new { users = new[] { "u-cap", "u-dead" } }));
        var plan = await SendAsync(app, second);
        plan.GetProperty("skipped").GetProperty("frequency cap: 1 per day").GetInt32().ShouldBe(1);
        var report = await ReportWhenAsync(app, second, r => r.GetProperty("state").GetString() == "sent");
        report.GetProperty("skipped").GetInt32().ShouldBe(1);
        report.GetProperty("failed").GetInt32().ShouldBe(1);
        report.GetProperty("failedByReason").EnumerateObject().Single().Name.ShouldStartWith("token dead");
        P.Fcm.Received.Count(r => r.Token == capped).ShouldBe(1);
        (await app.Rest().GetJson($"/api/v1/devices/{deadId}")).GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Number);
    }

    [Fact]
    public async Task Local_time_sends_go_out_at_nine_in_each_devices_own_timezone()
    {
        var app = await PushAppAsync();
        await Android(app, tz: "Europe/Istanbul");
        await Ios(app, tz: "Asia/Tokyo");
        await Android(app, tz: "America/New_York");
        var id = await app.CreateCampaignAsync(Push(new { all = true }, schedule: new { type = "local", localDate = "2026-11-27", localTime = "09:00" }));
        var plan = await SendAsync(app, id);
        plan.GetProperty("state").GetString().ShouldBe("scheduled");

        await using var conn = await host.Services.GetRequiredService<Herald.Server.Storage.Db>().OpenAsync(Ct);
        var due = (await conn.QueryAsync<long>("SELECT due_at FROM deliveries WHERE app_id = @a AND campaign_id = @id ORDER BY due_at", new { a = app.Id, id })).ToList();
        due.Select(ms => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-ddTHH:mm", CultureInfo.InvariantCulture))
            .ShouldBe(["2026-11-27T00:00", "2026-11-27T06:00", "2026-11-27T14:00"]);
        // Nothing is sent before its time; the queue holds one batch per send time.
        (await app.Rest().GetJson($"/api/v1/campaigns/{id}/report")).GetProperty("queued").GetInt32().ShouldBe(3);
        (await conn.QueryAsync<long>("SELECT due_at FROM delivery_batches WHERE app_id = @a AND campaign_id = @id ORDER BY due_at", new { a = app.Id, id }))
            .ShouldBe(due);
    }

    [Fact]
    public async Task A_receipt_reported_before_the_send_is_recorded_is_kept()
    {
        // A chunk records its outcomes when all its requests have come back, so a phone can report
        // the push while its ledger row still reads "queued": the receipt counts, and "sent" does not
        // undo it. Here the other phone of the chunk answers slowly.
        var app = await PushAppAsync();
        var (device, fast) = await Android(app, "u-early");
        var (_, slow) = await Android(app, "u-late");
        P.Fcm.Inject(slow, FcmFault.Slow(TimeSpan.FromSeconds(5)));
        var id = await app.CreateCampaignAsync(Push(new { users = new[] { "u-early", "u-late" } }));
        await SendAsync(app, id);
        var db = host.Services.GetRequiredService<Herald.Server.Storage.Db>();
        const string StateOf = "SELECT d.state FROM deliveries d JOIN devices v ON v.app_id = d.app_id AND v.ordinal = d.device_ordinal WHERE d.app_id = @a AND d.campaign_id = @id AND v.push_token = @token";
        var arrived = await CampaignPolling.UntilAsync(() => P.Fcm.Received.FirstOrDefault(r => r.Token == fast), r => r is not null);
        await using (var conn = await db.OpenAsync(Ct))
            (await conn.QuerySingleAsync<string>(StateOf, new { a = app.Id, id, token = fast })).ShouldBe("queued");
        // The report counts them in flight where it can see the claim (SQLite's lease), queued otherwise.
        var during = await app.Rest().GetJson($"/api/v1/campaigns/{id}/report");
        (during.GetProperty("queued").GetInt32() + during.GetProperty("sending").GetInt32()).ShouldBe(2);
        during.GetProperty("sending").GetInt32().ShouldBe(host.Engine == "sqlite" ? 2 : 0);
        await app.Sdk().PostOk("/sdk/v1/events", $$$"""{"installationId":"{{{device}}}","events":[{"messageId":"early-{{{id}}}","name":"push_received","timestamp":"{{{host.Clock.GetUtcNow():O}}}","attributes":{"message_id":"{{{arrived!.Data["herald_message_id"]}}}"}}]}""");
        await host.Services.GetRequiredService<Herald.Server.Ingest.ObserverPump>().CaughtUpAsync(Ct);
        await using (var conn = await db.OpenAsync(Ct))
            (await conn.QuerySingleAsync<string>(StateOf, new { a = app.Id, id, token = fast })).ShouldBe("delivered");

        var report = await ReportWhenAsync(app, id, r => r.GetProperty("state").GetString() == "sent");
        report.GetProperty("sent").GetInt32().ShouldBe(2);
        report.GetProperty("delivered").GetInt32().ShouldBe(1);
        P.Fcm.Received.Count(r => r.Token == fast).ShouldBe(1);
        await using (var conn = await db.OpenAsync(Ct))
        {
            (await conn.QuerySingleAsync<string>(StateOf, new { a = app.Id, id, token = fast })).ShouldBe("delivered");
            (await conn.QuerySingleAsync<string>(StateOf, new { a = app.Id, id, token = slow })).ShouldBe("sent");
            // The queue is empty once the campaign is sent.
            (await conn.ExecuteScalarAsync<long>("SELECT count(*) FROM delivery_batches WHERE app_id = @a AND campaign_id = @id", new { a = app.Id, id })).ShouldBe(0);
        }
    }

    [Fact]
    public async Task Quiet_hours_defer_never_drop()
    {
        // 12:00 UTC is 15:00 in Istanbul; quiet 14:00-16:00 defers to 16:00 local = 13:00 UTC.
        var app = await PushAppAsync(new { quietHoursStart = "14:00", quietHoursEnd = "16:00" });
        await Android(app, tz: "Europe/Istanbul");
        var id = await app.CreateCampaignAsync(Push(new { all = true }));
        var plan = await SendAsync(app, id);
        DateTimeOffset.FromUnixTimeMilliseconds(plan.GetProperty("firstDueAt").GetInt64()).ShouldBe(DateTimeOffset.Parse("2026-11-25T13:00:00Z", CultureInfo.InvariantCulture));
        plan.GetProperty("queued").GetInt32().ShouldBe(1);
    }

    [Fact]
    public async Task Stop_midway_cancels_the_rest_and_nothing_goes_out_after_it_returns()
    {
        var app = await PushAppAsync();
        var tokens = new List<string>();
        for (var i = 0; i < 40; i++) tokens.Add((await Android(app)).Token);
        foreach (var t in tokens) P.Fcm.Inject(t, FcmFault.Slow(TimeSpan.FromMilliseconds(100)));
        var id = await app.CreateCampaignAsync(Push(new { all = true }));
        await SendAsync(app, id);
        await ReportWhenAsync(app, id, r => r.GetProperty("sent").GetInt32() > 0);

        using var res = await app.Rest().PostAsJsonAsync($"/api/v1/campaigns/{id}/stop", new { reason = "wrong price" }, Ct);
        var stopped = await res.Content.ReadFromJsonAsync<JsonElement>(Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.OK, stopped.ToString());
        var requestsAtStop = P.Fcm.Received.Count(r => tokens.Contains(r.Token!));
        stopped.GetProperty("state").GetString().ShouldBe("stopped");
        stopped.GetProperty("sending").GetInt32().ShouldBe(0);
        (stopped.GetProperty("sent").GetInt32() + stopped.GetProperty("cancelled").GetInt32()).ShouldBe(40);

        // Let the dispatcher run more rounds: the provider sees no further request for this campaign.
        var sentAtStop = stopped.GetProperty("sent").GetInt32();
        for (var i = 0; i < 10; i++) (await app.Rest().GetJson($"/api/v1/campaigns/{id}/report")).GetProperty("sent").GetInt32().ShouldBe(sentAtStop);
        P.Fcm.Received.Count(r => tokens.Contains(r.Token!)).ShouldBe(requestsAtStop);
        requestsAtStop.ShouldBe(sentAtStop);
    }

    [Fact]
    public async Task A_recipient_missing_a_value_is_skipped_when_the_campaign_says_so()
    {
        var app = await PushAppAsync();
        var (_, named) = await Android(app, "u-named", "Can");
        var (_, anon) = await Android(app);
        var id = await app.CreateCampaignAsync(new
        {
            name = "strict", channel = "push", missingValues = "skip",
            content = new { title = "{{first_name}}, fırsat!", body = "b" }, audience = new { all = true },
        });
        await SendAsync(app, id);
        var report = await ReportWhenAsync(app, id, r => r.GetProperty("state").GetString() == "sent");
        report.GetProperty("sent").GetInt32().ShouldBe(1);
        report.GetProperty("skipped").GetInt32().ShouldBe(1);
        P.Fcm.Received.Single(r => r.Token == named).Message.GetProperty("notification").GetProperty("title").GetString().ShouldBe("Can, fırsat!");
        P.Fcm.Received.Any(r => r.Token == anon).ShouldBeFalse();
    }

    [Fact]
    public async Task A_segment_audience_includes_members_and_excludes_others()
    {
        var app = await PushAppAsync();
        var (_, vip) = await Android(app, "u-vip");
        var (_, plain) = await Android(app, "u-plain");
        await app.Rest().PutAsync("/api/v1/users/u-vip", Http.Json("""{"attributes":{"tier":"gold"}}"""), Ct);
        await app.Rest().PutAsync("/api/v1/users/u-plain", Http.Json("""{"attributes":{"tier":"basic"}}"""), Ct);
        using var seg = await app.Rest().PostAsJsonAsync("/api/v1/segments",
            JsonDocument.Parse("""{"name":"gold","rules":{"attribute":"tier","op":"eq","value":"gold"}}""").RootElement, Ct);
        var segBody = await seg.Content.ReadFromJsonAsync<JsonElement>(Ct);
        seg.StatusCode.ShouldBe(HttpStatusCode.Created, segBody.ToString());
        var segmentId = segBody.GetProperty("id").GetInt64();

        var inc = await app.CreateCampaignAsync(Push(new { includeSegments = new[] { segmentId } }));
        (await SendAsync(app, inc)).GetProperty("queued").GetInt32().ShouldBe(1);
        await ReportWhenAsync(app, inc, r => r.GetProperty("state").GetString() == "sent");
        P.Fcm.Received.Count(r => r.Token == vip).ShouldBe(1);

        var exc = await app.CreateCampaignAsync(Push(new { all = true, excludeSegments = new[] { segmentId } }));
        (await SendAsync(app, exc)).GetProperty("queued").GetInt32().ShouldBe(1);
        await ReportWhenAsync(app, exc, r => r.GetProperty("state").GetString() == "sent");
        P.Fcm.Received.Count(r => r.Token == plain).ShouldBe(1);
        P.Fcm.Received.Count(r => r.Token == vip).ShouldBe(1);
    }
    [Fact]
    public async Task Opens_dismisses_and_purchases_from_the_sdk_fill_the_report()
    {
        var app = await PushAppAsync();
        var (a, _) = await Android(app, "u-open");
        var (b, _) = await Android(app, "u-dismiss");
        await Android(app, "u-silent");
        var id = await app.CreateCampaignAsync(Push(new { all = true }));
        await SendAsync(app, id);
        await ReportWhenAsync(app, id, r => r.GetProperty("state").GetString() == "sent");
        var at = host.Clock.GetUtcNow();
        await app.Sdk().PostOk("/sdk/v1/events", $$$"""{"installationId":"{{{a}}}","events":[{"messageId":"o-1","name":"push_opened","timestamp":"{{{at:O}}}","attributes":{"message_id":"{{{id}}}-0"}},{"messageId":"o-2","name":"purchase","timestamp":"{{{at.AddMinutes(5):O}}}","revenue":{"amount":99.5,"currency":"TRY"}}]}""");
        await app.Sdk().PostOk("/sdk/v1/events", $$$"""{"installationId":"{{{b}}}","events":[{"messageId":"d-1","name":"push_dismissed","timestamp":"{{{at:O}}}","attributes":{"message_id":"{{{id}}}-1"}}]}""");
        var report = await ReportWhenAsync(app, id, r => r.GetProperty("converted").GetInt32() == 1 && r.GetProperty("dismissed").GetInt32() == 1);
        report.GetProperty("opened").GetInt32().ShouldBe(1);
        report.GetProperty("clickThroughRate").GetDouble().ShouldBe(Math.Round(1 / 3.0, 4));
        report.GetProperty("revenue").GetDouble().ShouldBe(99.5);
    }

    [Fact]
    public async Task Recall_sends_a_silent_command_to_every_mobile_device_reached_and_web_push_is_refused()
    {
        var app = await PushAppAsync();
        var (_, android) = await Android(app);
        var (_, ios) = await Ios(app);
        var id = await app.CreateCampaignAsync(Push(new { all = true }));
        await SendAsync(app, id);
        await ReportWhenAsync(app, id, r => r.GetProperty("state").GetString() == "sent");

        var recall = await app.Rest().PostOk($"/api/v1/campaigns/{id}/recall", """{"reason":"wrong price"}""");
        recall.GetProperty("sent").GetInt32().ShouldBe(2);
        recall.GetProperty("note").GetString()!.ShouldContain("not guaranteed");
        var cmd = P.Fcm.Received.Where(r => r.Token == android).Last().Message;
        cmd.TryGetProperty("notification", out _).ShouldBeFalse();
        cmd.GetProperty("data").GetProperty("herald_cmd").GetString().ShouldBe("recall");
        cmd.GetProperty("data").GetProperty("message_id").GetString().ShouldStartWith($"{id}-");
        P.Apns.Received.Count(r => r.Token == ios).ShouldBe(2);
        var report = await app.Rest().GetJson($"/api/v1/campaigns/{id}/report");
        report.GetProperty("recalled").GetInt32().ShouldBe(2);
        report.GetProperty("state").GetString().ShouldBe("recalled");

        var web = await app.CreateCampaignAsync(new { name = "w", channel = "webpush", content = new { body = "b" }, audience = new { all = true } });
        var p = await (await app.Rest().PostAsync($"/api/v1/campaigns/{web}/recall", Http.Json("{}"), Ct)).ShouldBeProblem(HttpStatusCode.Conflict, "channel");
        p.GetProperty("detail").GetString()!.ShouldContain("service worker");
    }

    [Fact]
    public async Task A_transactional_message_with_the_same_idempotency_key_is_sent_once()
    {
        var app = await PushAppAsync();
        var (_, token) = await Android(app, "u-otp", "Deniz");
        async Task<JsonElement> Post()
        {
            using var req = new HttpRequestMessage(HttpMethod.Post, "/api/v1/messages")
            {
                Content = JsonContent.Create(new { channel = "push", users = new[] { "u-otp" }, content = new { title = "Kod", body = "{{first_name}}, kodunuz 4812" } }),
            };
            req.Headers.Add("Idempotency-Key", "order-42-shipped");
            using var res = await app.Rest().SendAsync(req, Ct);
            var body = await res.Content.ReadFromJsonAsync<JsonElement>(Ct);
            res.StatusCode.ShouldBe(HttpStatusCode.OK, body.ToString());
            return body;
        }
        var first = await Post();
        var again = await Post();
        again.GetProperty("campaignId").GetInt64().ShouldBe(first.GetProperty("campaignId").GetInt64());
        await ReportWhenAsync(app, first.GetProperty("campaignId").GetInt64(), r => r.GetProperty("state").GetString() == "sent");
        P.Fcm.Received.Count(r => r.Token == token).ShouldBe(1);
        P.Fcm.Received.Single(r => r.Token == token).Message.GetProperty("android").GetProperty("priority").GetString().ShouldBe("HIGH");
        await (await app.Rest().PostAsJsonAsync("/api/v1/messages", new { channel = "push", content = new { body = "x" } }, Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "users");
    }
}

[Collection(SqliteCollection.Name)]
public sealed class CampaignSendTestsSqlite(SqliteHost host) : CampaignSendTests(host);

[Collection(PostgresCollection.Name)]
public sealed class CampaignSendTestsPostgres(PostgresHost host) : CampaignSendTests(host);
