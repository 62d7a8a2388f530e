using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Herald.Tests;

public abstract class CampaignDefinitionTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static object Push(string title = "Hi {{ first_name | default: 'there' }}", string body = "Your {{default city \"city\"}} deals", object? extra = null) => new
    {
        name = "Winter sale",
        channel = "push",
        content = new
        {
            title, body, url = "shop://product/{{urlencode last_sku}}",
            buttons = new object[] { new { text = "Buy", action = "deeplink", target = "shop://buy" }, new { text = "Later", action = "dismiss" } },
            locales = new Dictionary<string, object> { ["tr"] = new { title = "Merhaba {{ first_name | default: 'oradaki' }}", body = "{{default city \"şehir\"}} fırsatları" } },
            ttlSeconds = 3600,
        },
        audience = new { all = true, platforms = new[] { "ios", "android" } },
        schedule = new { type = "now" },
    };

    [Fact]
    public async Task A_campaign_is_saved_as_a_draft_with_who_created_it()
    {
        var app = await host.NewAppAsync();
        using var res = await app.Rest().PostAsJsonAsync("/api/v1/campaigns", Push(), Ct);
        var c = await res.Content.ReadFromJsonAsync<JsonElement>(Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.Created, c.ToString());
        c.GetProperty("state").GetString().ShouldBe("draft");
        c.GetProperty("history")[0].GetProperty("actor").GetString()!.ShouldStartWith("rest-key:");
        var id = c.GetProperty("id").GetInt64();

        var fetched = await app.Rest().GetJson($"/api/v1/campaigns/{id}");
        fetched.GetProperty("definition").GetProperty("content").GetProperty("buttons").GetArrayLength().ShouldBe(2);
        // Another app's key does not see it.
        var other = await host.NewAppAsync();
        await (await other.Rest().GetAsync($"/api/v1/campaigns/{id}", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task An_oversized_json_body_is_refused_naming_the_limit_and_nothing_changes()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        using (var saved = await rest.PutAsJsonAsync("/api/v1/app/alert-settings", new { webhookUrl = "https://ops.example/hook", emails = Array.Empty<string>() }, Ct))
            saved.StatusCode.ShouldBe(HttpStatusCode.OK);
        var huge = "{\"webhookUrl\":\"https://ops.example/" + new string('x', 1_100_000) + "\"}";
        foreach (var (method, path) in new[] { (HttpMethod.Put, "/api/v1/app/alert-settings"), (HttpMethod.Post, "/api/v1/campaigns") })
        {
            using var req = new HttpRequestMessage(method, path) { Content = new StringContent(huge, System.Text.Encoding.UTF8, "application/json") };
            var p = await (await rest.SendAsync(req, Ct)).ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "body");
            p.GetProperty("limit").GetInt32().ShouldBe(1024 * 1024);
        }
        (await rest.GetJson("/api/v1/app/alert-settings")).GetProperty("webhookUrl").GetString().ShouldBe("https://ops.example/hook");
        (await rest.GetJson("/api/v1/campaigns")).GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task A_template_error_answers_422_with_field_and_position()
    {
        var app = await host.NewAppAsync();
        var p = await (await app.Rest().PostAsJsonAsync("/api/v1/campaigns", Push(body: "Line one\nHi {{first_name"), Ct))
            .ShouldBeProblem(HttpStatusCode.UnprocessableEntity, "content.body");
        p.GetProperty("line").GetInt32().ShouldBe(2);
        p.GetProperty("column").GetInt32().ShouldBeGreaterThan(0);
        await (await app.Rest().PostAsJsonAsync("/api/v1/campaigns", Push(title: "{{#if vip}}VIP"), Ct))
            .ShouldBeProblem(HttpStatusCode.UnprocessableEntity, "content.title");
    }

    [Fact]
    public async Task Channel_rules_are_checked_when_saving()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        var fourButtons = new { name = "x", channel = "push", content = new { body = "b", buttons = Enumerable.Range(0, 4).Select(i => new { text = $"b{i}", action = "open_app" }) }, audience = new { all = true } };
        var p = await (await rest.PostAsJsonAsync("/api/v1/campaigns", fourButtons, Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "content.buttons");
        p.GetProperty("limit").GetInt32().ShouldBe(3);
        var iosOnly = new { name = "x", channel = "push", content = new { body = "b", buttons = Enumerable.Range(0, 4).Select(i => new { text = $"b{i}", action = "open_app" }) }, audience = new { all = true, platforms = new[] { "ios" } } };
        (await rest.PostAsJsonAsync("/api/v1/campaigns", iosOnly, Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        var web3 = new { name = "x", channel = "webpush", content = new { body = "b", buttons = Enumerable.Range(0, 3).Select(i => new { text = $"b{i}", action = "open_app" }) }, audience = new { all = true } };
        (await (await rest.PostAsJsonAsync("/api/v1/campaigns", web3, Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "content.buttons")).GetProperty("limit").GetInt32().ShouldBe(2);
        await (await rest.PostAsJsonAsync("/api/v1/campaigns", new { name = "x", channel = "fax", content = new { body = "b" }, audience = new { all = true } }, Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "channel");
        await (await rest.PostAsJsonAsync("/api/v1/campaigns", new { name = "x", channel = "email", content = new { html = "<p>x</p>" }, audience = new { all = true } }, Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "content.subject");
        await (await rest.PostAsJsonAsync("/api/v1/campaigns", new { name = "x", channel = "push", content = new { body = "b" }, audience = new { } }, Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "audience");
        await (await rest.PostAsJsonAsync("/api/v1/campaigns", new { name = "x", channel = "push", content = new { body = "b" }, audience = new { all = true }, schedule = new { type = "local", localDate = "2026-12-01", localTime = "9am" } }, Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "schedule.localTime");
        await (await rest.PostAsync("/api/v1/campaigns", Http.Json("""{"name":"x","channel":"push","content":{"body":"b","badge":"many"},"audience":{"all":true}}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "$.content.badge");
    }

    [Fact]
    public async Task Preview_renders_for_a_user_in_their_language_and_skips_when_told()
    {
        var app = await host.NewAppAsync();
        var dev = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"android","locale":"tr-TR","pushToken":"t","pushEnabled":true}""")).GetProperty("installationId").GetString();
        await app.Sdk().PostOk("/sdk/v1/identify", $$$"""{"installationId":"{{{dev}}}","externalId":"p-1","attributes":{"first_name":"Şükrü","last_sku":"A B"}}""");
        await app.Rest().PutAsync("/api/v1/users/p-2", Http.Json("""{"attributes":{"city":"İzmir"}}"""), Ct);

        var id = (await (await app.Rest().PostAsJsonAsync("/api/v1/campaigns", Push(), Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
        var p1 = await (await app.Rest().PostAsJsonAsync($"/api/v1/campaigns/{id}/preview", new { externalId = "p-1" }, Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        p1.GetProperty("locale").GetString().ShouldBe("tr");
        p1.GetProperty("rendered").GetProperty("title").GetString().ShouldBe("Merhaba Şükrü");
        p1.GetProperty("rendered").GetProperty("body").GetString().ShouldBe("şehir fırsatları");
        p1.GetProperty("rendered").GetProperty("url").GetString().ShouldBe("shop://product/A%20B");

        var en = await (await app.Rest().PostAsJsonAsync($"/api/v1/campaigns/{id}/preview", new { externalId = "p-2", locale = "en-US" }, Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        en.GetProperty("rendered").GetProperty("title").GetString().ShouldBe("Hi there");
        en.GetProperty("rendered").GetProperty("body").GetString().ShouldBe("Your İzmir deals");

        // With "skip", a user lacking a value without default is not sent to.
        var skip = new { name = "s", channel = "sms", content = new { body = "Kod: {{code}}" }, audience = new { users = new[] { "p-1" } }, missingValues = "skip" };
        var sid = (await (await app.Rest().PostAsJsonAsync("/api/v1/campaigns", skip, Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
        var sp = await (await app.Rest().PostAsJsonAsync($"/api/v1/campaigns/{sid}/preview", new { externalId = "p-1" }, Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        sp.GetProperty("skipped").GetBoolean().ShouldBeTrue();
        sp.GetProperty("skipReason").GetString()!.ShouldContain("code");

        await (await app.Rest().PostAsJsonAsync($"/api/v1/campaigns/{id}/preview", new { externalId = "nobody" }, Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Editing_is_recorded_in_the_history()
    {
        var app = await host.NewAppAsync();
        var id = (await (await app.Rest().PostAsJsonAsync("/api/v1/campaigns", Push(), Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
        host.Clock.Advance(TimeSpan.FromMinutes(5));
        using var put = await app.Rest().PutAsJsonAsync($"/api/v1/campaigns/{id}", Push(title: "New title"), Ct);
        var c = await put.Content.ReadFromJsonAsync<JsonElement>(Ct);
        put.StatusCode.ShouldBe(HttpStatusCode.OK, c.ToString());
        c.GetProperty("definition").GetProperty("content").GetProperty("title").GetString().ShouldBe("New title");
        var history = c.GetProperty("history").EnumerateArray().ToList();
        history.Select(h => h.GetProperty("reason").GetString()).ShouldBe(["created", "edited"]);
        (history[1].GetProperty("at").GetInt64() - history[0].GetProperty("at").GetInt64()).ShouldBe(300_000);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class CampaignDefinitionTestsSqlite(SqliteHost host) : CampaignDefinitionTests(host);

[Collection(PostgresCollection.Name)]
public sealed class CampaignDefinitionTestsPostgres(PostgresHost host) : CampaignDefinitionTests(host);
