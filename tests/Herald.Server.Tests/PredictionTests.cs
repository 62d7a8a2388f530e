using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Herald.Server.Predictions;

namespace Herald.Tests;

/// <summary>Predictive segments (R-SEG-5): models trained on the app's own history, held-out AUC, scores, "top N% most likely" segments.</summary>
public abstract class PredictionTests(HeraldHost host) : AutomatedCampaignTests(host)
{
    private static string At(string iso) => DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture).ToString("O", CultureInfo.InvariantCulture);

    /// <summary>
    /// 60 engaged people (a visit every few days up to the cut-off, one in five identified, and visits
    /// after it) and 60 fading ones (two visits early in the window, none since). The host's clock is
    /// 25 Nov: the cut-off is 11 Nov, the window 14 Oct – 11 Nov.
    /// </summary>
    private async Task<(TestApp App, List<string> Engaged, List<string> Fading)> HistoryAsync()
    {
        var app = await Host.NewAppAsync();
        var engaged = new List<string>();
        var fading = new List<string>();
        for (var i = 0; i < 120; i++)
        {
            var id = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"android","pushToken":"t","pushEnabled":true}""")).GetProperty("installationId").GetString()!;
            var stays = i % 2 == 0;
            if (stays && i % 10 == 0) await app.Sdk().PostOk("/sdk/v1/identify", $$"""{"installationId":"{{id}}","externalId":"loyal-{{i}}"}""");
            var days = stays ? new[] { "2026-10-20", "2026-10-24", "2026-10-28", "2026-11-01", "2026-11-04", "2026-11-07", "2026-11-10", "2026-11-15", "2026-11-20", "2026-11-24" }
                : ["2026-10-15", "2026-10-17"];
            var events = new StringBuilder();
            foreach (var day in days)
            {
                if (events.Length > 0) events.Append(',');
                events.Append(CultureInfo.InvariantCulture, $$"""{"messageId":"{{Guid.NewGuid()}}","name":"app_open","timestamp":"{{At(day + "T09:00:00Z")}}"}""");
                events.Append(CultureInfo.InvariantCulture, $$""",{"messageId":"{{Guid.NewGuid()}}","name":"view_item","timestamp":"{{At(day + "T09:05:00Z")}}"}""");
            }
            await app.Sdk().PostOk("/sdk/v1/events", $$"""{"installationId":"{{id}}","events":[{{events}}]}""");
            (stays ? engaged : fading).Add(id);
        }
        await Host.Services.GetRequiredService<Herald.Server.Ingest.ObserverPump>().CaughtUpAsync(Ct);
        return (app, engaged, fading);
    }

    [Fact]
    public async Task A_churn_model_learns_from_history_ranks_held_out_people_and_targets_the_top_share()
    {
        var (app, engaged, fading) = await HistoryAsync();
        (await app.Rest().GetJson("/api/v1/predictions/churn")).GetProperty("status").GetString().ShouldBe("off");

        var model = await app.Rest().PostOk("/api/v1/predictions/churn/train", "{}");
        model.GetProperty("status").GetString().ShouldBe("ok", model.ToString());
        model.GetProperty("auc").GetDouble().ShouldBeGreaterThan(0.9);
        (model.GetProperty("trainingRows").GetInt32() + model.GetProperty("heldOutRows").GetInt32()).ShouldBe(120);
        model.GetProperty("heldOutRows").GetInt32().ShouldBeInRange(10, 40);
        model.GetProperty("baseRate").GetDouble().ShouldBe(0.5);
        model.GetProperty("weights").GetProperty("days_since_last").GetDouble().ShouldBeGreaterThan(0);
        model.GetProperty("scoredDevices").GetInt32().ShouldBe(120);

        var quiet = await app.Rest().GetJson($"/api/v1/predictions/churn/scores/{fading[0]}");
        var loyal = await app.Rest().GetJson($"/api/v1/predictions/churn/scores/{engaged[0]}");
        quiet.GetProperty("score").GetDouble().ShouldBeGreaterThan(loyal.GetProperty("score").GetDouble());
        quiet.GetProperty("percentile").GetDouble().ShouldBeGreaterThanOrEqualTo(50);

        // "The top half most likely to churn" is exactly the fading half; a saved segment keeps it.
        (await app.Rest().PostOk("/api/v1/segments/preview", """{"rules":{"predicted":{"model":"churn","top":50}}}""")).GetProperty("size").GetInt64().ShouldBe(60);
        var segment = (await app.Rest().PostCreated("/api/v1/segments", """{"name":"Likely to churn","rules":{"predicted":{"model":"churn","top":50}}}""")).GetProperty("id").GetInt64();
        var members = (await app.Rest().GetJson($"/api/v1/segments/{segment}/members?limit=1000")).GetProperty("members").EnumerateArray()
            .Select(m => m.GetProperty("installationId").GetString()).ToHashSet();
        members.SetEquals(fading).ShouldBeTrue();
        (await app.Rest().PostOk("/api/v1/segments/preview", """{"rules":{"and":[{"predicted":{"model":"churn","minScore":0}},{"device":"platform","op":"eq","value":"android"}]}}"""))
            .GetProperty("size").GetInt64().ShouldBe(120);
    }

    [Fact]
    public async Task Too_little_history_is_refused_with_the_counts_and_an_untrained_model_cannot_be_targeted()
    {
        var (app, _, _) = await HistoryAsync();
        using (var res = await app.Rest().PostAsync("/api/v1/predictions/purchase/train", Http.Json("{}"), Ct))
        {
            var p = await res.ShouldBeProblem(HttpStatusCode.UnprocessableEntity, "model");
            p.GetProperty("detail").GetString()!.ShouldContain("120 people were active");
            p.GetProperty("detail").GetString()!.ShouldContain("0 of them purchased");
        }
        (await app.Rest().GetJson("/api/v1/predictions/purchase")).GetProperty("status").GetString().ShouldBe("insufficient");
        using (var res = await app.Rest().PostAsync("/api/v1/segments/preview", Http.Json("""{"rules":{"predicted":{"model":"purchase","top":10}}}"""), Ct))
            await res.ShouldBeProblem(HttpStatusCode.BadRequest, "rules.predicted.model");
        using (var res = await app.Rest().PostAsync("/api/v1/segments/preview", Http.Json("""{"rules":{"predicted":{"model":"churn","top":0}}}"""), Ct))
            await res.ShouldBeProblem(HttpStatusCode.BadRequest, "rules.predicted.top");
        await (await app.Rest().PostAsync("/api/v1/predictions/ltv/train", Http.Json("{}"), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "model");
        var other = await Host.NewAppAsync();
        await (await other.Rest().GetAsync($"/api/v1/predictions/churn/scores/x", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task The_predictions_page_shows_each_model_and_marketers_train_them_there()
    {
        var (app, _, _) = await HistoryAsync();
        var owner = await PanelAccounts.OwnerAsync(Host);
        var viewer = PanelClient.For(Host);
        await viewer.LoginAsync((await PanelAccounts.MemberAsync(Host, app.Id, Herald.Server.Accounts.Roles.Viewer, owner)).Email, PanelAccounts.Password);
        var marketer = PanelClient.For(Host);
        await marketer.LoginAsync((await PanelAccounts.MemberAsync(Host, app.Id, Herald.Server.Accounts.Roles.Marketer, owner)).Email, PanelAccounts.Password);
        var url = $"/panel/apps/{app.Id}/predictions";
        var before = (await viewer.GetAsync(url)).Body;
        before.ShouldContain("not trained");
        before.ShouldNotContain("Train now");
        (await viewer.PostFormAsync($"/panel/apps/{app.Id}/segments/edit", new Dictionary<string, string> { ["model"] = "churn" }, $"{url}?handler=train")).Status.ShouldBe(HttpStatusCode.Forbidden);

        var trained = WebUtility.HtmlDecode((await marketer.PostFormAsync(url, new Dictionary<string, string> { ["model"] = "churn" }, $"{url}?handler=train")).Body);
        trained.ShouldContain("The churn model is trained: AUC");
        trained.ShouldContain("What raises and lowers the churn score");
        // Too little history comes back as the page's error with the counts.
        WebUtility.HtmlDecode((await marketer.PostFormAsync(url, new Dictionary<string, string> { ["model"] = "purchase" }, $"{url}?handler=train")).Body)
            .ShouldContain("0 of them purchased");
        (await Host.Services.GetRequiredService<Herald.Server.Accounts.AuditLog>().ReadAsync(null, 1000, Ct)).ShouldContain(e => e.AppId == app.Id && e.Action == "prediction.train");
    }

    [Fact]
    public async Task Trained_models_are_trained_again_a_day_later_by_the_worker()
    {
        var (app, _, _) = await HistoryAsync();
        var first = (await app.Rest().PostOk("/api/v1/predictions/churn/train", "{}")).GetProperty("trainedAt").GetInt64();
        var service = Host.Services.GetRequiredService<PredictionService>();
        await service.RefreshDueAsync(Ct);
        (await app.Rest().GetJson("/api/v1/predictions/churn")).GetProperty("trainedAt").GetInt64().ShouldBe(first); // not due yet
        Host.Clock.Advance(TimeSpan.FromHours(25));
        (await service.RefreshDueAsync(Ct)).ShouldBeGreaterThanOrEqualTo(1); // other tests' apps on this host may be due too
        var again = await app.Rest().GetJson("/api/v1/predictions/churn");
        again.GetProperty("trainedAt").GetInt64().ShouldBe(first + (long)TimeSpan.FromHours(25).TotalMilliseconds);
        again.GetProperty("status").GetString().ShouldBe("ok");
    }
}

[Collection(SqliteCollection.Name)]
public sealed class PredictionTestsSqlite(SqliteHost host) : PredictionTests(host);

[Collection(PostgresCollection.Name)]
public sealed class PredictionTestsPostgres(PostgresHost host) : PredictionTests(host);
