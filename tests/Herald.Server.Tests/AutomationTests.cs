using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Herald.Server.Automation;
using Herald.Server.Storage;
using Herald.Sim.Providers;

namespace Herald.Tests;

/// <summary>Triggered and recurring campaigns (R-MSG-5): every firing goes through the real ingest, planner, dispatcher and loopback FCM.</summary>
public abstract class AutomationTests(HeraldHost host) : AutomatedCampaignTests(host)
{

    private async Task<TestApp> AppAsync()
    {
        var app = await Host.NewAppAsync();
        (await app.Rest().PutAsJsonAsync("/api/v1/app/credentials/fcm", P.FcmCredentials, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        return app;
    }

    /// <summary>An identified Android phone; returns its installation id and push token.</summary>
    private static async Task<(string Id, string Token)> PhoneAsync(TestApp app, string user, string tz = "Europe/Istanbul")
    {
        var token = $"fcm-{Guid.NewGuid():N}";
        var id = (await app.Sdk().PostOk("/sdk/v1/devices", $$"""{"platform":"android","pushToken":"{{token}}","pushEnabled":true,"timezone":"{{tz}}"}"""))
            .GetProperty("installationId").GetString()!;
        await app.Sdk().PostOk("/sdk/v1/identify", $$"""{"installationId":"{{id}}","externalId":"{{user}}"}""");
        return (id, token);
    }

    private Task EventAsync(TestApp app, string installation, string name, string attributes = "{}") =>
        app.Sdk().PostOk("/sdk/v1/events",
            $$"""{"installationId":"{{installation}}","events":[{"messageId":"{{Guid.NewGuid()}}","name":"{{name}}","timestamp":"{{Host.Clock.GetUtcNow():O}}","attributes":{{attributes}}}]}""");

    private async Task<long> ActiveCampaignAsync(TestApp app, string title, object? trigger = null, object? recurrence = null, object? audience = null)
    {
        using var res = await app.Rest().PostAsJsonAsync("/api/v1/campaigns", new
        {
            name = title, channel = "push", content = new { title, body = "b" }, audience = audience ?? new { }, trigger, recurrence,
        }, Ct);
        var body = await res.Content.ReadFromJsonAsync<JsonElement>(Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.Created, body.ToString());
        var id = body.GetProperty("id").GetInt64();
        (await app.Rest().PostOk($"/api/v1/campaigns/{id}/activate", "{}")).GetProperty("state").GetString().ShouldBe("active");
        Activated.Add(app, id);
        return id;
    }

    /// <summary>One automation pass on the host (what its worker does on every poll), then the dispatcher's work.</summary>
    private async Task PassAsync(IServiceProvider? node = null) =>
        await (node ?? Host.Services).GetRequiredService<AutomationWorker>().PassAsync(Ct);

    private int Pushes(string token, string? title = null) =>
        P.Fcm.Received.Count(r => r.Token == token && (title is null || r.Message.GetProperty("notification").GetProperty("title").GetString() == title));

    /// <summary>Waits (bounded) until the dispatcher has sent everything the runs of the campaign queued.</summary>
    private static async Task<JsonElement> SettledAsync(TestApp app, long id, int sent)
    {
        var v = default(JsonElement);
        for (var i = 0; i < 600; i++)
        {
            v = await app.Rest().GetJson($"/api/v1/campaigns/{id}/automation");
            if (v.GetProperty("sent").GetInt32() >= sent) return v;
            await Task.Delay(50, Ct);
        }
        throw new TimeoutException($"campaign {id} did not send {sent} messages within 30 s: {v}");
    }

    private async Task LedgerIdleAsync(System.Data.Common.DbConnection conn, long appId)
    {
        for (var i = 0; i < 600; i++)
        {
            var open = await conn.ExecuteScalarAsync<long>(
                "SELECT count(*) FROM deliveries WHERE app_id = @appId AND (state = 'sending' OR (state = 'queued' AND due_at <= @now))",
                new { appId, now = Host.Clock.GetUtcNow().ToUnixTimeMilliseconds() });
            if (open == 0) return;
            Host.Services.GetRequiredService<Herald.Server.Campaigns.DispatchWorker>().Wake();
            await Task.Delay(50, Ct);
        }
        throw new TimeoutException("due messages were not sent within 30 s");
    }

    private static int Triggers(JsonElement view, string state) =>
        view.GetProperty("triggers").TryGetProperty(state, out var n) ? n.GetInt32() : 0;

    [Fact]
    public async Task Abandoned_cart_message_goes_only_to_those_who_did_not_buy_within_the_hour()
    {
        var app = await AppAsync();
        var (a, ta) = await PhoneAsync(app, "cart-a");
        var (b, tb) = await PhoneAsync(app, "cart-b");
        var (c, tc) = await PhoneAsync(app, "cart-c");
        var id = await ActiveCampaignAsync(app, "Sepetin seni bekliyor: {{event.sku}}",
            new { type = "absence", @event = "add_to_cart", cancelEvent = "purchase", withinMinutes = 60 });

        foreach (var d in new[] { a, b, c }) await EventAsync(app, d, "add_to_cart", """{"sku":"kırmızı-ayakkabı"}""");
        Host.Clock.Advance(TimeSpan.FromMinutes(20));
        await EventAsync(app, b, "purchase");
        await PassAsync();
        (Pushes(ta) + Pushes(tb) + Pushes(tc)).ShouldBe(0); // nothing before the hour is up

        Host.Clock.Advance(TimeSpan.FromMinutes(41));
        await PassAsync();
        var view = await SettledAsync(app, id, 2);
        await PassAsync();
        Pushes(ta).ShouldBe(1);
        Pushes(tc).ShouldBe(1);
        Pushes(tb).ShouldBe(0);
        // The add-to-cart event that started the wait personalises the message.
        (Pushes(ta, "Sepetin seni bekliyor: kırmızı-ayakkabı") + Pushes(tc, "Sepetin seni bekliyor: kırmızı-ayakkabı")).ShouldBe(2);
        Triggers(view, "fired").ShouldBe(2);
        Triggers(view, "cancelled").ShouldBe(1);
        view.GetProperty("runs").GetArrayLength().ShouldBe(1);
    }

    [Fact]
    public async Task Event_trigger_applies_its_filter_and_waits_its_delay()
    {
        var app = await AppAsync();
        var (big, tBig) = await PhoneAsync(app, "big-spender");
        var (small, tSmall) = await PhoneAsync(app, "small-spender");
        var id = await ActiveCampaignAsync(app, "Teşekkürler, {{event.total}} TL",
            new { type = "event", @event = "order_placed", delaySeconds = 600, filters = new object[] { new { attribute = "total", op = "gt", value = 100 } } });
        await EventAsync(app, big, "order_placed", """{"total":150}""");
        await EventAsync(app, small, "order_placed", """{"total":50}""");
        await PassAsync();
        Pushes(tBig).ShouldBe(0);

        Host.Clock.Advance(TimeSpan.FromMinutes(11));
        await PassAsync();
        var view = await SettledAsync(app, id, 1);
        Pushes(tBig).ShouldBe(1);
        Pushes(tSmall).ShouldBe(0);
        // The event that fired the message personalises it (event.* in the templates).
        Pushes(tBig, "Teşekkürler, 150 TL").ShouldBe(1);
        Triggers(view, "fired").ShouldBe(1);
        Triggers(view, "pending").ShouldBe(0);
    }

    [Fact]
    public async Task Reentry_once_sends_one_message_ever_and_every_n_days_sends_again_after_n_days()
    {
        var app = await AppAsync();
        var (d, token) = await PhoneAsync(app, "returning");
        var once = await ActiveCampaignAsync(app, "Once", new { type = "event", @event = "viewed_offer" });
        var every = await ActiveCampaignAsync(app, "Every2", new { type = "event", @event = "viewed_offer", reentry = "every_n_days", reentryDays = 2 });

        async Task ViewOfferAsync(int expectOnce, int expectEvery)
        {
            await EventAsync(app, d, "viewed_offer");
            await PassAsync();
            await SettledAsync(app, once, expectOnce);
            await SettledAsync(app, every, expectEvery);
        }
        await ViewOfferAsync(1, 1);
        Host.Clock.Advance(TimeSpan.FromDays(1));
        await ViewOfferAsync(1, 1);   // within 2 days: both refuse
        Host.Clock.Advance(TimeSpan.FromDays(2));
        await ViewOfferAsync(1, 2);   // 3 days after the first: "every 2 days" sends again
        await PassAsync();

        Pushes(token, "Once").ShouldBe(1);
        Pushes(token, "Every2").ShouldBe(2);
        var onceView = await app.Rest().GetJson($"/api/v1/campaigns/{once}/automation");
        Triggers(onceView, "fired").ShouldBe(1);
        Triggers(onceView, "skipped").ShouldBe(2);
        Triggers(await app.Rest().GetJson($"/api/v1/campaigns/{every}/automation"), "skipped").ShouldBe(1);
    }

    [Fact]
    public async Task Inactivity_trigger_reaches_only_people_quiet_for_n_days()
    {
        var app = await AppAsync();
        var (active, tActive) = await PhoneAsync(app, "still-here");
        var (_, tQuiet) = await PhoneAsync(app, "gone-quiet");
        var id = await ActiveCampaignAsync(app, "Seni özledik", new { type = "inactivity", inactiveDays = 7 });
        await PassAsync();

        Host.Clock.Advance(TimeSpan.FromDays(5));
        await EventAsync(app, active, "app_open");
        Host.Clock.Advance(TimeSpan.FromDays(3));
        await PassAsync();
        var view = await SettledAsync(app, id, 1);
        // The same silence does not trigger twice.
        Host.Clock.Advance(TimeSpan.FromHours(1));
        await PassAsync();
        Pushes(tQuiet).ShouldBe(1);
        Pushes(tActive).ShouldBe(0);
        Triggers(view, "fired").ShouldBe(1);
    }

    [Fact]
    public async Task Entering_a_real_time_segment_triggers_and_being_inside_before_activation_does_not()
    {
        var app = await AppAsync();
        var (before, tBefore) = await PhoneAsync(app, "vip-early");
        var (later, tLater) = await PhoneAsync(app, "vip-later");
        await EventAsync(app, before, "became_vip"); // a member before the campaign starts listening
        using var res = await app.Rest().PostAsJsonAsync("/api/v1/segments",
            new { name = "VIP", realtime = true, rules = JsonDocument.Parse("""{"event":"became_vip"}""").RootElement }, Ct);
        var segment = await res.Content.ReadFromJsonAsync<JsonElement>(Ct);
        res.IsSuccessStatusCode.ShouldBeTrue(segment.ToString());
        await Host.Services.GetRequiredService<Herald.Server.Ingest.ObserverPump>().CaughtUpAsync(Ct);

        var id = await ActiveCampaignAsync(app, "VIP oldun", new { type = "segment_entry", segmentId = segment.GetProperty("id").GetInt64() });
        await EventAsync(app, later, "became_vip");
        await PassAsync();
        var view = await SettledAsync(app, id, 1);
        Pushes(tLater).ShouldBe(1);
        Pushes(tBefore).ShouldBe(0);
        Triggers(view, "fired").ShouldBe(1);
    }

    [Fact]
    public async Task Recurring_daily_campaign_sends_once_a_day_at_the_local_time()
    {
        var app = await AppAsync();
        var (_, token) = await PhoneAsync(app, "daily-reader", "Europe/Istanbul");
        await using var conn = await Host.Services.GetRequiredService<Db>().OpenAsync(Ct);
        // Activated at 19:30 UTC, just after the moment 09:00 of the next date began at UTC+14 (19:00 UTC):
        // that date is skipped; the runs of the two dates after it begin (at 19:00 UTC the day before each) and
        // fall due (06:00 UTC, 09:00 in Istanbul) within the next 60 hours, and no third run begins.
        var now = Host.Clock.GetUtcNow();
        var start = new DateTimeOffset(now.UtcDateTime.Date.AddDays(1).AddHours(19.5), TimeSpan.Zero);
        Host.Clock.Set(start);
        var id = await ActiveCampaignAsync(app, "Günün fırsatı", recurrence: new { every = "daily", localTime = "09:00" }, audience: new { all = true });
        for (var hour = 1; hour <= 60; hour++)
        {
            Host.Clock.Advance(TimeSpan.FromHours(1));
            await PassAsync();
            // Time moves only once what is due has been sent (an hour's jump mid-send would expire the lease and resend).
            await LedgerIdleAsync(conn, app.Id);
        }
        var view = await SettledAsync(app, id, 2);
        var runs = view.GetProperty("runs").EnumerateArray().OrderBy(r => r.GetProperty("runKey").GetString(), StringComparer.Ordinal).ToList();
        var first = DateOnly.FromDateTime(start.UtcDateTime).AddDays(2);
        runs.Select(r => r.GetProperty("runKey").GetString()).ShouldBe([first.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), first.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)]);
        foreach (var run in runs)
        {
            // 09:00 in Istanbul is 06:00 UTC.
            var due = await conn.QuerySingleAsync<long>("SELECT due_at FROM deliveries WHERE app_id = @a AND campaign_id = @r",
                new { a = app.Id, r = run.GetProperty("campaignId").GetInt64() });
            var local = DateOnly.ParseExact(run.GetProperty("runKey").GetString()!, "yyyy-MM-dd", CultureInfo.InvariantCulture);
            DateTimeOffset.FromUnixTimeMilliseconds(due).ShouldBe(new DateTimeOffset(local.ToDateTime(new TimeOnly(6, 0)), TimeSpan.Zero));
        }
        Pushes(token).ShouldBe(2);
    }

    [Fact]
    public async Task Pending_triggers_survive_in_the_database_and_two_nodes_firing_at_once_send_once()
    {
        var app = await AppAsync();
        var phones = new List<(string Id, string Token)>();
        for (var i = 0; i < 5; i++) phones.Add(await PhoneAsync(app, $"durable-{i}"));
        var id = await ActiveCampaignAsync(app, "Dayanıklı", new { type = "event", @event = "wishlist_add", delaySeconds = 3600 });
        foreach (var (d, _) in phones) await EventAsync(app, d, "wishlist_add");
        await Host.Services.GetRequiredService<Herald.Server.Ingest.ObserverPump>().CaughtUpAsync(Ct);
        await using (var conn = await Host.Services.GetRequiredService<Db>().OpenAsync(Ct))
            (await conn.ExecuteScalarAsync<long>("SELECT count(*) FROM pending_triggers WHERE app_id = @a AND campaign_id = @id AND state = 'pending'",
                new { a = app.Id, id })).ShouldBe(5);
        // The same events seen twice (an observer replay) write nothing more.
        await using (var conn = await Host.Services.GetRequiredService<Db>().OpenAsync(Ct))
        {
            var stored = (await conn.QueryAsync<(string MessageId, int? Device, int? User, long At)>(
                "SELECT message_id, device_ordinal, user_ordinal, occurred_at FROM events WHERE app_id = @a AND name = 'wishlist_add'", new { a = app.Id }))
                .Select(e => new Herald.Server.Ingest.StoredEvent(app.Id, e.MessageId, "wishlist_add", e.Device, e.User, e.At, null)).ToList();
            stored.Count.ShouldBe(5);
            await Host.Services.GetServices<Herald.Server.Ingest.IIngestObserver>().OfType<TriggerObserver>().Single().OnCommittedAsync(stored);
            (await conn.ExecuteScalarAsync<long>("SELECT count(*) FROM pending_triggers WHERE app_id = @a AND campaign_id = @id", new { a = app.Id, id })).ShouldBe(5);
        }

        // A node started after the triggers were written (a restart) fires them, racing the first node: each person gets one message.
        await using var second = Host.NewNode();
        Host.Clock.Advance(TimeSpan.FromMinutes(61));
        await Task.WhenAll(PassAsync(second.Services), PassAsync(), PassAsync(second.Services), PassAsync());
        var view = await SettledAsync(app, id, 5);
        await Task.WhenAll(PassAsync(second.Services), PassAsync());
        foreach (var (_, token) in phones) Pushes(token).ShouldBe(1);
        Triggers(view, "fired").ShouldBe(5);
        view.GetProperty("sent").GetInt32().ShouldBe(5);
    }

    [Fact]
    public async Task Bad_triggers_answer_problem_details_naming_the_field()
    {
        var app = await AppAsync();
        async Task BadAsync(object trigger, string field, object? recurrence = null)
        {
            using var res = await app.Rest().PostAsJsonAsync("/api/v1/campaigns",
                new { name = "x", channel = "push", content = new { body = "b" }, audience = new { all = true }, trigger, recurrence }, Ct);
            await res.ShouldBeProblem(HttpStatusCode.BadRequest, field);
        }
        await BadAsync(new { type = "absence", @event = "add_to_cart", cancelEvent = "purchase" }, "trigger.withinMinutes");
        await BadAsync(new { type = "absence", @event = "add_to_cart", withinMinutes = 60 }, "trigger.cancelEvent");
        await BadAsync(new { type = "sometimes" }, "trigger.type");
        await BadAsync(new { type = "event", @event = "x", delaySeconds = -1 }, "trigger.delaySeconds");
        await BadAsync(new { type = "event", @event = "x", reentry = "every_n_days" }, "trigger.reentryDays");
        await BadAsync(new { type = "event", @event = "x", filters = new object[] { new { attribute = "total", op = "bigger", value = 1 } } }, "trigger.filters[0].op");
        await BadAsync(new { type = "inactivity" }, "trigger.inactiveDays");
        await BadAsync(null!, "recurrence.dayOfWeek", new { every = "weekly", localTime = "09:00" });
        await BadAsync(null!, "recurrence.localTime", new { every = "daily", localTime = "9 o'clock" });

        // A triggered campaign is activated, not sent; an ordinary one cannot be activated.
        using var created = await app.Rest().PostAsJsonAsync("/api/v1/campaigns",
            new { name = "t", channel = "push", content = new { body = "b" }, trigger = new { type = "event", @event = "x" } }, Ct);
        var t = (await created.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
        await (await app.Rest().PostAsync($"/api/v1/campaigns/{t}/send", Http.Json("{}"), Ct)).ShouldBeProblem(HttpStatusCode.Conflict, "state");
        (await app.Rest().PostAsync($"/api/v1/campaigns/{t}/activate", Http.Json("{}"), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await app.Rest().PostOk($"/api/v1/campaigns/{t}/stop", "{}")).GetProperty("state").GetString().ShouldBe("stopped");
        var other = await Host.NewAppAsync();
        await (await other.Rest().PostAsync($"/api/v1/campaigns/{t}/activate", Http.Json("{}"), Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class AutomationTestsSqlite(SqliteHost host) : AutomationTests(host);

[Collection(PostgresCollection.Name)]
public sealed class AutomationTestsPostgres(PostgresHost host) : AutomationTests(host);
