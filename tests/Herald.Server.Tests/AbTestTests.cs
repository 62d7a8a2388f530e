using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Herald.Server.Storage;
using Herald.Sim.Providers;
using Herald.Sim.Simulation;

namespace Herald.Tests;

/// <summary>A/B tests (R-MSG-7) end to end: split, send, opens from devices, the decision after the test time, the rest gets the winner.</summary>
public abstract class AbTestTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private LoopbackProviders P => host.Providers;
    private const string TitleA = "Variant A: sepetiniz sizi bekliyor";
    private const string TitleB = "Variant B: son 2 saat, %20 indirim";

    private async Task<TestApp> PushAppAsync()
    {
        var app = await host.NewAppAsync();
        foreach (var (channel, body) in new[] { ("fcm", P.FcmCredentials), ("apns", P.ApnsCredentials) })
            (await app.Rest().PutAsJsonAsync($"/api/v1/app/credentials/{channel}", body, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        return app;
    }

    private static object Campaign(double testShare, string noWinner = "keep_a", object? abTest = null) => new
    {
        name = "a/b", channel = "push",
        content = new { title = "base title", body = "Sepetiniz sizi bekliyor" },
        audience = new { all = true },
        abTest = abTest ?? new
        {
            variants = new object[] { new { content = new { title = TitleA } }, new { content = new { title = TitleB } } },
            testShare, metric = "open_rate", durationMinutes = 60, alpha = 0.05, noWinner,
        },
    };

    /// <summary>Half the audience in the test (A and B), a quarter in a control group, the rest held for the winner.</summary>
    private static object WithControlGroup() => Campaign(testShare: 0.5, abTest: new
    {
        variants = new object[] { new { content = new { title = TitleA } }, new { content = new { title = TitleB } } },
        testShare = 0.5, controlShare = 0.25, metric = "open_rate", durationMinutes = 60, alpha = 0.05, noWinner = "keep_a",
    });

    private static Task<JsonElement> ReportWhenAsync(TestApp app, long id, Func<JsonElement, bool> done) => app.ReportWhenAsync(id, done);

    /// <summary>Every push the loopback providers accepted for these tokens: (token, title, message id).</summary>
    private List<(string Token, string? Title, string? MessageId)> Received(IReadOnlySet<string> tokens) =>
        P.Fcm.Received.Where(r => r.Token is { } t && tokens.Contains(t)).Select(r => (r.Token!, r.Title, r.Data.GetValueOrDefault("herald_message_id")))
            .Concat(P.Apns.Received.Where(r => tokens.Contains(r.Token)).Select(r => (r.Token, r.Title, r.Custom("herald_message_id"))))
            .ToList();

    private static bool Decided(JsonElement r) =>
        r.GetProperty("abTest").GetProperty("decision").ValueKind == JsonValueKind.Object && r.GetProperty("state").GetString() == "sent";

    [Fact]
    public async Task The_variant_that_opens_more_wins_and_the_rest_of_the_audience_gets_it()
    {
        var app = await PushAppAsync();
        var sim = new DeviceSimulator(app.Sdk(), P, new SimOptions
        {
            Devices = 80, Seed = 5, IosShare = 0.5, AndroidShare = 0.5, Concurrency = 4,
            Reactions = ReactionRates.Immediate(openRate: 0, dismissRate: 0) with
            {
                OpenRateByTitle = new Dictionary<string, double> { [TitleA] = 0.1, [TitleB] = 0.9 },
            },
        }, host.Clock);
        await sim.RegisterAsync("", ct: Ct);
        var tokens = sim.Devices.Select(d => d.Token).ToHashSet();
        var id = await app.CreateCampaignAsync(Campaign(testShare: 0.5));
        var start = host.Clock.GetUtcNow();
        try
        {
            var plan = await app.Rest().PostOk($"/api/v1/campaigns/{id}/send", "{}");
            plan.GetProperty("queued").GetInt32().ShouldBe(40);
            plan.GetProperty("held").GetInt32().ShouldBe(40);
            var testing = await ReportWhenAsync(app, id, r => r.GetProperty("sent").GetInt32() == 40 && r.GetProperty("sending").GetInt32() == 0);
            testing.GetProperty("state").GetString().ShouldBe("sending");
            testing.GetProperty("held").GetInt32().ShouldBe(40);
            testing.GetProperty("abTest").GetProperty("decision").ValueKind.ShouldBe(JsonValueKind.Null);
            // The test cohort only, split evenly; the held recipients get nothing yet.
            var cohort = Received(tokens);
            cohort.Count.ShouldBe(40);
            cohort.Count(r => r.Title == TitleA).ShouldBe(20);
            cohort.Count(r => r.Title == TitleB).ShouldBe(20);

            // The devices open what arrived: B far more often than A.
            sim.Pump().ShouldBeGreaterThanOrEqualTo(40);
            await sim.FlushAsync();

            host.Clock.Advance(TimeSpan.FromMinutes(61));
            var report = await ReportWhenAsync(app, id, Decided);
            var ab = report.GetProperty("abTest");
            var decision = ab.GetProperty("decision");
            decision.GetProperty("winnerName").GetString().ShouldBe("B", decision.ToString());
            decision.GetProperty("pValue").GetDouble().ShouldBeLessThan(0.05);
            decision.GetProperty("significant").GetBoolean().ShouldBeTrue();
            decision.GetProperty("fallbackApplied").GetBoolean().ShouldBeFalse();
            decision.GetProperty("test").GetString()!.ShouldContain("z-test");
            var variants = ab.GetProperty("variants").EnumerateArray().ToList();
            variants.Select(v => v.GetProperty("sent").GetInt32()).ShouldBe([20, 20]);
            variants[1].GetProperty("openRate").GetDouble().ShouldBeGreaterThan(variants[0].GetProperty("openRate").GetDouble());
            ab.GetProperty("held").GetInt32().ShouldBe(0);
            ab.GetProperty("rollout").GetInt32().ShouldBe(40);
            ab.GetProperty("rolloutSent").GetInt32().ShouldBe(40);

            // The rest of the audience got B, once each; nobody got two messages.
            var all = Received(tokens);
            all.Count.ShouldBe(80);
            all.Select(r => r.Token).Distinct().Count().ShouldBe(80);
            var cohortTokens = cohort.Select(r => r.Token).ToHashSet();
            all.Where(r => !cohortTokens.Contains(r.Token)).ShouldAllBe(r => r.Title == TitleB);

            var history = (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("history").EnumerateArray().ToList();
            history.ShouldContain(h => h.GetProperty("actor").GetString() == "ab-test" && h.GetProperty("reason").GetString()!.StartsWith("A/B test decided: B wins"));
            history.Last().GetProperty("to").GetString().ShouldBe("sent");
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task Equal_opens_apply_the_fallback_rule_and_the_report_says_so()
    {
        var app = await PushAppAsync();
        var byToken = new Dictionary<string, string>();
        for (var i = 0; i < 20; i++)
        {
            var token = $"fcm-{Guid.NewGuid():N}";
            var device = (await app.Sdk().PostOk("/sdk/v1/devices", $$"""{"platform":"android","pushToken":"{{token}}","pushEnabled":true}""")).GetProperty("installationId").GetString()!;
            byToken[token] = device;
        }
        var id = await app.CreateCampaignAsync(Campaign(testShare: 0.5, noWinner: "keep_a"));
        var start = host.Clock.GetUtcNow();
        try
        {
            await app.Rest().PostOk($"/api/v1/campaigns/{id}/send", "{}");
            await ReportWhenAsync(app, id, r => r.GetProperty("sent").GetInt32() == 10 && r.GetProperty("sending").GetInt32() == 0);
            var cohort = Received(byToken.Keys.ToHashSet());
            cohort.Count.ShouldBe(10);
            // Exactly two opens per variant: 2 of 5 against 2 of 5.
            foreach (var title in new[] { TitleA, TitleB })
                foreach (var (token, _, messageId) in cohort.Where(r => r.Title == title).Take(2))
                    await app.Sdk().PostOk("/sdk/v1/events", $$$"""{"installationId":"{{{byToken[token]}}}","events":[{"messageId":"{{{Guid.NewGuid():N}}}","name":"push_opened","timestamp":"{{{host.Clock.GetUtcNow():O}}}","attributes":{"message_id":"{{{messageId}}}"}}]}""");

            host.Clock.Advance(TimeSpan.FromMinutes(61));
            var report = await ReportWhenAsync(app, id, Decided);
            var ab = report.GetProperty("abTest");
            ab.GetProperty("variants").EnumerateArray().Select(v => v.GetProperty("opened").GetInt32()).ShouldBe([2, 2]);
            var decision = ab.GetProperty("decision");
            decision.GetProperty("fallbackApplied").GetBoolean().ShouldBeTrue();
            decision.GetProperty("significant").GetBoolean().ShouldBeFalse();
            decision.GetProperty("winnerName").GetString().ShouldBe("A");
            decision.GetProperty("pValue").GetDouble().ShouldBe(1, 1e-6);
            decision.GetProperty("reason").GetString()!.ShouldContain("No significant difference");
            decision.GetProperty("reason").GetString()!.ShouldContain("keep variant A");

            var cohortTokens = cohort.Select(r => r.Token).ToHashSet();
            var rest = Received(byToken.Keys.ToHashSet()).Where(r => !cohortTokens.Contains(r.Token)).ToList();
            rest.Count.ShouldBe(10);
            rest.ShouldAllBe(r => r.Title == TitleA);

            // The panel's report page says the same.
            var owner = await PanelAccounts.OwnerAsync(host);
            var viewer = await PanelAccounts.MemberAsync(host, app.Id, Herald.Server.Accounts.Roles.Viewer, owner);
            var panel = PanelClient.For(host);
            await panel.LoginAsync(viewer.Email, PanelAccounts.Password);
            var page = await panel.GetAsync($"/panel/apps/{app.Id}/campaigns/{id}/report");
            page.Status.ShouldBe(HttpStatusCode.OK);
            page.Body.ShouldContain("id=\"ab-variants\"");
            page.Body.ShouldContain("<dt>Fallback rule applied</dt><dd>yes</dd>");
            page.Body.ShouldContain("keep variant A");
            page.Body.ShouldContain("<dt>p-value</dt><dd>1 (two-proportion z-test (pooled))</dd>");
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task Stopping_during_the_test_cancels_the_held_recipients_and_nothing_is_decided()
    {
        var app = await PushAppAsync();
        var tokens = new HashSet<string>();
        for (var i = 0; i < 10; i++)
        {
            var token = $"fcm-{Guid.NewGuid():N}";
            await app.Sdk().PostOk("/sdk/v1/devices", $$"""{"platform":"android","pushToken":"{{token}}","pushEnabled":true}""");
            tokens.Add(token);
        }
        var id = await app.CreateCampaignAsync(Campaign(testShare: 0.2));
        var start = host.Clock.GetUtcNow();
        try
        {
            (await app.Rest().PostOk($"/api/v1/campaigns/{id}/send", "{}")).GetProperty("held").GetInt32().ShouldBe(8);
            await ReportWhenAsync(app, id, r => r.GetProperty("sent").GetInt32() == 2 && r.GetProperty("sending").GetInt32() == 0);
            var stopped = await app.Rest().PostOk($"/api/v1/campaigns/{id}/stop", """{"reason":"wrong price"}""");
            stopped.GetProperty("cancelled").GetInt32().ShouldBe(8);
            stopped.GetProperty("held").GetInt32().ShouldBe(0);

            host.Clock.Advance(TimeSpan.FromMinutes(61));
            var report = await ReportWhenAsync(app, id, r => r.GetProperty("abTest").GetProperty("decision").ValueKind == JsonValueKind.Object);
            var decision = report.GetProperty("abTest").GetProperty("decision");
            decision.GetProperty("reason").GetString()!.ShouldContain("stopped");
            decision.GetProperty("winner").ValueKind.ShouldBe(JsonValueKind.Null);
            report.GetProperty("state").GetString().ShouldBe("stopped");
            Received(tokens).Count.ShouldBe(2);
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task A_control_group_gets_nothing_and_purchases_after_the_send_give_each_variants_lift()
    {
        var app = await PushAppAsync();
        var devices = new List<(string Id, string Token)>();
        for (var i = 0; i < 20; i++)
        {
            var token = $"fcm-{Guid.NewGuid():N}";
            var id = (await app.Sdk().PostOk("/sdk/v1/devices", $$"""{"platform":"android","pushToken":"{{token}}","pushEnabled":true}""")).GetProperty("installationId").GetString()!;
            await app.Sdk().PostOk("/sdk/v1/identify", $$"""{"installationId":"{{id}}","externalId":"lift-{{i}}"}""");
            devices.Add((id, token));
        }
        var tokens = devices.Select(d => d.Token).ToHashSet();
        var campaign = await app.CreateCampaignAsync(WithControlGroup());
        var start = host.Clock.GetUtcNow();
        try
        {
            var plan = await app.Rest().PostOk($"/api/v1/campaigns/{campaign}/send", "{}");
            plan.GetProperty("queued").GetInt32().ShouldBe(10);
            plan.GetProperty("held").GetInt32().ShouldBe(5);
            plan.GetProperty("skipped").GetProperty("control group").GetInt32().ShouldBe(5);
            await ReportWhenAsync(app, campaign, r => r.GetProperty("sent").GetInt32() == 10 && r.GetProperty("sending").GetInt32() == 0);
            List<string> control;
            await using (var conn = await host.Services.GetRequiredService<Db>().OpenAsync(Ct))
                control = (await conn.QueryAsync<string>(
                    "SELECT d.push_token FROM deliveries l JOIN devices d ON d.app_id = l.app_id AND d.ordinal = l.device_ordinal WHERE l.app_id = @app AND l.campaign_id = @campaign AND l.variant = -2",
                    new { app = app.Id, campaign })).ToList();
            control.Count.ShouldBe(5);
            var cohort = Received(tokens);
            cohort.Count.ShouldBe(10);
            cohort.ShouldAllBe(r => !control.Contains(r.Token));

            // Purchases: two of the control group within the day after the send, one before it (outside
            // the window); three of the test cohort, one of them without opening anything.
            var at = host.Clock.GetUtcNow();
            async Task BuyAsync(string token, DateTimeOffset when)
            {
                var device = devices.First(d => d.Token == token).Id;
                await app.Sdk().PostOk("/sdk/v1/events", $$$"""{"installationId":"{{{device}}}","events":[{"messageId":"{{{Guid.NewGuid():N}}}","name":"purchase","timestamp":"{{{when:O}}}","revenue":{"amount":50,"currency":"TRY"}}]}""");
            }
            await BuyAsync(control[0], at.AddMinutes(5));
            await BuyAsync(control[1], at.AddHours(3));
            await BuyAsync(control[2], at.AddHours(-2));
            var buyers = cohort.Take(3).ToList();
            foreach (var b in buyers) await BuyAsync(b.Token, at.AddMinutes(10));
            var report = await ReportWhenAsync(app, campaign, r => r.GetProperty("abTest").GetProperty("control").GetProperty("converted").GetInt32() == 2
                && r.GetProperty("abTest").GetProperty("control").GetProperty("variants").EnumerateArray().Sum(v => v.GetProperty("converted").GetInt32()) == 3);
            var c = report.GetProperty("abTest").GetProperty("control");
            c.GetProperty("share").GetDouble().ShouldBe(0.25);
            c.GetProperty("recipients").GetInt32().ShouldBe(5);
            c.GetProperty("conversionRate").GetDouble().ShouldBe(0.4);
            foreach (var v in c.GetProperty("variants").EnumerateArray())
            {
                var name = v.GetProperty("name").GetString();
                var title = name == "A" ? TitleA : TitleB;
                var bought = buyers.Count(b => b.Title == title);
                v.GetProperty("sent").GetInt32().ShouldBe(5);
                v.GetProperty("converted").GetInt32().ShouldBe(bought);
                v.GetProperty("conversionRate").GetDouble().ShouldBe(bought / 5.0);
                v.GetProperty("lift").GetDouble().ShouldBe(Math.Round(bought / 5.0 / 0.4 - 1, 4));
                v.GetProperty("pValue").GetDouble().ShouldBeInRange(0, 1);
            }
            // Nobody opened: the open-based conversions stay 0, the lift counts purchases after the send.
            report.GetProperty("converted").GetInt32().ShouldBe(0);

            // After the decision only the held recipients get the winner; the control group still nothing.
            host.Clock.Advance(TimeSpan.FromMinutes(61));
            await ReportWhenAsync(app, campaign, Decided);
            var all = Received(tokens);
            all.Count.ShouldBe(15);
            all.Select(r => r.Token).Distinct().Count().ShouldBe(15);
            all.ShouldAllBe(r => !control.Contains(r.Token));
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task A_persons_devices_all_land_in_the_same_group()
    {
        var app = await PushAppAsync();
        for (var u = 0; u < 12; u++)
            for (var k = 0; k < 2; k++)
            {
                var id = (await app.Sdk().PostOk("/sdk/v1/devices", $$"""{"platform":"android","pushToken":"fcm-{{Guid.NewGuid():N}}","pushEnabled":true}""")).GetProperty("installationId").GetString()!;
                await app.Sdk().PostOk("/sdk/v1/identify", $$"""{"installationId":"{{id}}","externalId":"two-phones-{{u}}"}""");
            }
        var campaign = await app.CreateCampaignAsync(WithControlGroup());
        var start = host.Clock.GetUtcNow();
        try
        {
            var plan = await app.Rest().PostOk($"/api/v1/campaigns/{campaign}/send", "{}");
            // Shares count people: 6 of 12 in the test (12 phones), 3 in the control group (6 phones).
            plan.GetProperty("queued").GetInt32().ShouldBe(12);
            plan.GetProperty("skipped").GetProperty("control group").GetInt32().ShouldBe(6);
            await using var conn = await host.Services.GetRequiredService<Db>().OpenAsync(Ct);
            var groups = (await conn.QueryAsync<(int User, int Variant)>(
                "SELECT user_ordinal, variant FROM deliveries WHERE app_id = @app AND campaign_id = @campaign", new { app = app.Id, campaign })).ToList();
            groups.Count.ShouldBe(24);
            groups.GroupBy(g => g.User).ShouldAllBe(g => g.Select(x => x.Variant).Distinct().Count() == 1);
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task Preview_renders_each_variant()
    {
        var app = await PushAppAsync();
        var device = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"android","pushToken":"t-prev-1","pushEnabled":true}""")).GetProperty("installationId").GetString();
        var id = await app.CreateCampaignAsync(Campaign(testShare: 0.3));
        (await app.Rest().PostOk($"/api/v1/campaigns/{id}/preview", $$"""{"installationId":"{{device}}"}""")).GetProperty("rendered").GetProperty("title").GetString().ShouldBe(TitleA);
        var b = await app.Rest().PostOk($"/api/v1/campaigns/{id}/preview", $$"""{"installationId":"{{device}}","variant":1}""");
        b.GetProperty("rendered").GetProperty("title").GetString().ShouldBe(TitleB);
        b.GetProperty("rendered").GetProperty("body").GetString().ShouldBe("Sepetiniz sizi bekliyor");
        await (await app.Rest().PostAsJsonAsync($"/api/v1/campaigns/{id}/preview", new { installationId = device, variant = 2 }, Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "variant");
    }

    [Fact]
    public async Task Bad_ab_definitions_answer_problems_naming_the_field()
    {
        var app = await PushAppAsync();
        async Task<JsonElement> Bad(object abTest, HttpStatusCode status, string field, bool urgent = false)
        {
            var body = new
            {
                name = "bad", channel = "push", urgent, content = new { title = "t", body = "b" }, audience = new { all = true }, abTest,
            };
            return await (await app.Rest().PostAsJsonAsync("/api/v1/campaigns", body, Ct)).ShouldBeProblem(status, field);
        }
        object V(string title) => new { content = new { title } };
        object Ab(object[]? variants = null, double testShare = 0.2, string metric = "open_rate", int durationMinutes = 60, double alpha = 0.05, string noWinner = "keep_a") =>
            new { variants = variants ?? [V("a"), V("b")], testShare, metric, durationMinutes, alpha, noWinner };

        var six = await Bad(Ab([V("1"), V("2"), V("3"), V("4"), V("5"), V("6")]), HttpStatusCode.BadRequest, "abTest.variants");
        six.GetProperty("detail").GetString()!.ShouldContain("got 6");
        six.GetProperty("limit").GetInt32().ShouldBe(5);
        await Bad(Ab([V("only")]), HttpStatusCode.BadRequest, "abTest.variants");
        (await Bad(Ab(testShare: 1.5), HttpStatusCode.BadRequest, "abTest.testShare")).GetProperty("detail").GetString()!.ShouldContain("1.5");
        await Bad(Ab(testShare: 0), HttpStatusCode.BadRequest, "abTest.testShare");
        await Bad(Ab(metric: "clicks"), HttpStatusCode.BadRequest, "abTest.metric");
        await Bad(Ab(durationMinutes: 0), HttpStatusCode.BadRequest, "abTest.durationMinutes");
        await Bad(Ab(alpha: 0.5), HttpStatusCode.BadRequest, "abTest.alpha");
        await Bad(Ab(noWinner: "coin_flip"), HttpStatusCode.BadRequest, "abTest.noWinner");
        object WithControl(double testShare, double controlShare) => new { variants = new[] { V("a"), V("b") }, testShare, controlShare, metric = "open_rate", durationMinutes = 60, alpha = 0.05, noWinner = "keep_a" };
        (await Bad(WithControl(0.2, 0.6), HttpStatusCode.BadRequest, "abTest.controlShare")).GetProperty("limit").GetDouble().ShouldBe(0.5);
        await Bad(WithControl(0.2, -0.1), HttpStatusCode.BadRequest, "abTest.controlShare");
        await Bad(WithControl(0.7, 0.4), HttpStatusCode.BadRequest, "abTest.controlShare");
        await Bad(Ab([new { name = "X", content = new { title = "a" } }, new { name = "x", content = new { title = "b" } }]), HttpStatusCode.BadRequest, "abTest.variants[1].name");
        await Bad(Ab(), HttpStatusCode.BadRequest, "abTest", urgent: true);
        // A variant's template is compiled at save, like the base content: field, line and column.
        var template = await Bad(Ab([V("ok"), V("Hi {{#if first_name}}")]), HttpStatusCode.UnprocessableEntity, "abTest.variants[1].content.title");
        template.GetProperty("line").GetInt32().ShouldBe(1);
        template.TryGetProperty("column", out _).ShouldBeTrue();
        // A variant's buttons follow the channel's limits too.
        var buttons = new[] { new { text = "1", action = "open_app" }, new { text = "2", action = "open_app" }, new { text = "3", action = "open_app" }, new { text = "4", action = "open_app" } };
        await Bad(Ab([V("a"), new { content = new { buttons } }]), HttpStatusCode.BadRequest, "abTest.variants[1].content.buttons");
    }
}

[Collection(SqliteCollection.Name)]
public sealed class AbTestTestsSqlite(SqliteHost host) : AbTestTests(host);

[Collection(PostgresCollection.Name)]
public sealed class AbTestTestsPostgres(PostgresHost host) : AbTestTests(host);
