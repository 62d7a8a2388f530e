using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Herald.Server.Automation;
using Herald.Sim.Providers;

namespace Herald.Tests;

/// <summary>The catalog (R-MSG-3, R-APP-2): items upserted in bulk, read by id, and named by messages as item.*.</summary>
public abstract class CatalogTests(HeraldHost host) : AutomatedCampaignTests(host)
{

    private const string Shoes = """
        {"items":[
          {"id":"T-42","name":"Trail runner","price":1499.9,"currency":"try","imageUrl":"https://cdn.shop.example/t42.jpg","url":"https://shop.example/p/t42","category":"shoes","inStock":true,"attributes":{"colour":"kırmızı","size":42}},
          {"id":"S-1","name":"Wool socks","price":120,"currency":"TRY","inStock":false}
        ]}
        """;

    private static async Task<JsonElement> PutAsync(TestApp app, string json, HttpStatusCode expect = HttpStatusCode.OK)
    {
        using var res = await app.Rest().PutAsync("/api/v1/catalog/items", Http.Json(json), Ct);
        var body = await res.Content.ReadAsStringAsync(Ct);
        res.StatusCode.ShouldBe(expect, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [Fact]
    public async Task Items_are_upserted_in_bulk_listed_by_page_read_replaced_and_deleted()
    {
        var app = await Host.NewAppAsync();
        (await PutAsync(app, Shoes)).GetProperty("total").GetInt64().ShouldBe(2);
        var t42 = await app.Rest().GetJson("/api/v1/catalog/items/T-42");
        t42.GetProperty("currency").GetString().ShouldBe("TRY");
        t42.GetProperty("attributes").GetProperty("colour").GetString().ShouldBe("kırmızı");

        // The same id again replaces the item; the total counts it once.
        (await PutAsync(app, """{"items":[{"id":"T-42","name":"Trail runner II","price":1299}]}""")).GetProperty("total").GetInt64().ShouldBe(2);
        var replaced = await app.Rest().GetJson("/api/v1/catalog/items/T-42");
        replaced.GetProperty("name").GetString().ShouldBe("Trail runner II");
        replaced.GetProperty("imageUrl").ValueKind.ShouldBe(JsonValueKind.Null);

        var first = await app.Rest().GetJson("/api/v1/catalog/items?limit=1");
        first.GetProperty("items")[0].GetProperty("id").GetString().ShouldBe("S-1");
        var next = first.GetProperty("next").GetString();
        var second = await app.Rest().GetJson($"/api/v1/catalog/items?limit=1&after={next}");
        second.GetProperty("items")[0].GetProperty("id").GetString().ShouldBe("T-42");
        second.GetProperty("next").ValueKind.ShouldBe(JsonValueKind.Null);

        var other = await Host.NewAppAsync();
        await (await other.Rest().GetAsync("/api/v1/catalog/items/T-42", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
        await (await other.Rest().DeleteAsync("/api/v1/catalog/items/T-42", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
        (await app.Rest().DeleteAsync("/api/v1/catalog/items/T-42", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await (await app.Rest().GetAsync("/api/v1/catalog/items/T-42", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("""{"items":[]}""", "items")]
    [InlineData("""{"items":[{"name":"x"}]}""", "items[0].id")]
    [InlineData("""{"items":[{"id":"a","name":"x"},{"id":"a","name":"y"}]}""", "items[1].id")]
    [InlineData("""{"items":[{"id":"a"}]}""", "items[0].name")]
    [InlineData("""{"items":[{"id":"a","name":"x","price":-1}]}""", "items[0].price")]
    [InlineData("""{"items":[{"id":"a","name":"x","currency":"lira"}]}""", "items[0].currency")]
    [InlineData("""{"items":[{"id":"a","name":"x","imageUrl":"javascript:alert(1)"}]}""", "items[0].imageUrl")]
    [InlineData("""{"items":[{"id":"a","name":"x","attributes":{"sizes":[40,41]}}]}""", "items[0].attributes.sizes")]
    public async Task Bad_items_are_refused_naming_the_field_and_nothing_of_the_call_is_kept(string json, string field)
    {
        var app = await Host.NewAppAsync();
        using var res = await app.Rest().PutAsync("/api/v1/catalog/items", Http.Json(json.Replace("}]}", "},{\"id\":\"ok\",\"name\":\"fine\"}]}", StringComparison.Ordinal)), Ct);
        await res.ShouldBeProblem(HttpStatusCode.BadRequest, field);
        (await app.Rest().GetJson("/api/v1/catalog/items")).GetProperty("items").GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task A_general_app_has_no_catalog_and_is_told_how_to_get_one()
    {
        var app = await Host.NewAppAsync();
        using (var patch = await app.Rest().PatchAsJsonAsync("/api/v1/app", new { category = "general" }, Ct)) patch.EnsureSuccessStatusCode();
        (await PutAsync(app, Shoes, HttpStatusCode.Conflict)).GetProperty("detail").GetString()!.ShouldContain("\"category\": \"ecommerce\"");
        using var res = await app.Rest().PostAsJsonAsync("/api/v1/campaigns", new
        {
            name = "x", channel = "push", content = new { title = "{{item.name}}", body = "b", catalogItem = "T-42" }, audience = new { all = true },
        }, Ct);
        await res.ShouldBeProblem(HttpStatusCode.Conflict, "content.catalogItem");
    }

    [Fact]
    public async Task An_abandoned_cart_push_names_the_item_from_the_event_with_its_price_and_picture()
    {
        var app = await Host.NewAppAsync();
        (await app.Rest().PutAsJsonAsync("/api/v1/app/credentials/fcm", P.FcmCredentials, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        await PutAsync(app, Shoes);
        var tokens = new[] { $"fcm-{Guid.NewGuid():N}", $"fcm-{Guid.NewGuid():N}", $"fcm-{Guid.NewGuid():N}" };
        var phones = new List<string>();
        foreach (var t in tokens)
            phones.Add((await app.Sdk().PostOk("/sdk/v1/devices", $$"""{"platform":"android","pushToken":"{{t}}","pushEnabled":true}""")).GetProperty("installationId").GetString()!);
        var created = await app.Rest().PostCreated("/api/v1/campaigns", """
            {"name":"Cart","channel":"push","audience":{},"missingValues":"skip",
             "content":{"title":"{{item.name}} is waiting","body":"Now {{item.price}} {{item.currency}} in {{item.colour}}","imageUrl":"{{item.imageUrl}}","catalogItem":"{{event.sku}}"},
             "trigger":{"type":"event","event":"add_to_cart","reentry":"every_time"}}
            """);
        var id = created.GetProperty("id").GetInt64();
        await app.Rest().PostOk($"/api/v1/campaigns/{id}/activate", "{}");
        Activated.Add(app, id);

        foreach (var (phone, sku) in phones.Zip(["T-42", "S-1", "NOPE"]))
            await app.Sdk().PostOk("/sdk/v1/events",
                $$"""{"installationId":"{{phone}}","events":[{"messageId":"{{Guid.NewGuid()}}","name":"add_to_cart","timestamp":"{{Host.Clock.GetUtcNow():O}}","attributes":{"sku":"{{sku}}"} } ] }""");
        await Host.Services.GetRequiredService<Herald.Server.Ingest.ObserverPump>().CaughtUpAsync(Ct);
        await Host.Services.GetRequiredService<AutomationWorker>().PassAsync(Ct);
        await CampaignPolling.UntilAsync(() => P.Fcm.Received.Count(r => tokens.Contains(r.Token)), n => n >= 1);

        var t42 = P.Fcm.Received.Single(r => r.Token == tokens[0]).Message.GetProperty("notification");
        t42.GetProperty("title").GetString().ShouldBe("Trail runner is waiting");
        t42.GetProperty("body").GetString().ShouldBe("Now 1499.90 TRY in kırmızı");
        t42.GetProperty("image").GetString().ShouldBe("https://cdn.shop.example/t42.jpg");
        // The socks have no colour (a missing value) and NOPE is not in the catalog: both are skipped, as the campaign says.
        var runs = (await app.Rest().GetJson($"/api/v1/campaigns/{id}/automation")).GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("campaignId").GetInt64()).ToList();
        var reasons = new Dictionary<string, int>();
        foreach (var run in runs)
        {
            var report = await app.ReportWhenAsync(run, r => r.GetProperty("queued").GetInt32() == 0 && r.GetProperty("sending").GetInt32() == 0);
            foreach (var reason in report.GetProperty("skippedByReason").EnumerateObject()) reasons[reason.Name] = reasons.GetValueOrDefault(reason.Name) + reason.Value.GetInt32();
        }
        reasons.ShouldContainKeyAndValue("missing value 'item.colour' used in content.body", 1);
        reasons.ShouldContainKeyAndValue("catalog item 'NOPE' not found", 1);
        P.Fcm.Received.Count(r => r.Token == tokens[1] || r.Token == tokens[2]).ShouldBe(0);
    }

    [Fact]
    public async Task The_catalog_page_lists_items_and_marketers_upload_a_csv_whose_bad_line_is_named()
    {
        var app = await Host.NewAppAsync();
        var owner = await PanelAccounts.OwnerAsync(Host);
        var viewer = PanelClient.For(Host);
        await viewer.LoginAsync((await PanelAccounts.MemberAsync(Host, app.Id, Herald.Server.Accounts.Roles.Viewer, owner)).Email, PanelAccounts.Password);
        var marketer = PanelClient.For(Host);
        await marketer.LoginAsync((await PanelAccounts.MemberAsync(Host, app.Id, Herald.Server.Accounts.Roles.Marketer, owner)).Email, PanelAccounts.Password);
        var url = $"/panel/apps/{app.Id}/catalog";
        (await viewer.GetAsync(url)).Body.ShouldContain("No items yet.");
        (await viewer.GetAsync(url)).Body.ShouldNotContain("catalog-upload");

        var csv = Encoding.UTF8.GetBytes("id,name,price,currency,inStock,colour\r\nT-42,\"Trail runner, red\",1499.9,TRY,yes,kırmızı\r\nS-1,Wool socks,120,TRY,no,\r\n");
        var uploaded = WebUtility.HtmlDecode((await marketer.PostFileAsync(url, $"{url}?handler=upload", "file", "shop.csv", csv)).Body);
        uploaded.ShouldContain("2 items saved from shop.csv.");
        var t42 = await app.Rest().GetJson("/api/v1/catalog/items/T-42");
        t42.GetProperty("name").GetString().ShouldBe("Trail runner, red");
        t42.GetProperty("inStock").GetBoolean().ShouldBeTrue();
        t42.GetProperty("attributes").GetProperty("colour").GetString().ShouldBe("kırmızı");
        (await app.Rest().GetJson("/api/v1/catalog/items/S-1")).GetProperty("attributes").EnumerateObject().ShouldBeEmpty(); // an empty cell is no attribute
        WebUtility.HtmlDecode((await viewer.GetAsync(url)).Body).ShouldContain("Trail runner, red");

        var bad = Encoding.UTF8.GetBytes("id,name,currency\nA-1,Hat,TRY\nA-2,Scarf,lira\n");
        WebUtility.HtmlDecode((await marketer.PostFileAsync(url, $"{url}?handler=upload", "file", "bad.csv", bad)).Body)
            .ShouldContain("line 3: currency must be a 3-letter ISO 4217 code");
        await (await app.Rest().GetAsync("/api/v1/catalog/items/A-1", Ct)).ShouldBeProblem(HttpStatusCode.NotFound); // the refused thousand is not kept

        var general = await Host.NewAppAsync();
        using (var patch = await general.Rest().PatchAsJsonAsync("/api/v1/app", new { category = "general" }, Ct)) patch.EnsureSuccessStatusCode();
        var admin = PanelClient.For(Host);
        await admin.LoginAsync((await PanelAccounts.MemberAsync(Host, general.Id, Herald.Server.Accounts.Roles.Admin, owner)).Email, PanelAccounts.Password);
        (await admin.GetAsync($"/panel/apps/{general.Id}/catalog")).Body.ShouldContain("change the app");
    }

    [Fact]
    public async Task The_preview_renders_a_fixed_catalog_item_for_a_user()
    {
        var app = await Host.NewAppAsync();
        await PutAsync(app, Shoes);
        var phone = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"ios","pushToken":"apns-x","pushEnabled":true}""")).GetProperty("installationId").GetString()!;
        var id = await app.CreateCampaignAsync(new
        {
            name = "Back in stock", channel = "push", audience = new { all = true },
            content = new { title = "{{item.name}} is back", body = "{{default item.colour \"Every colour\"}} · {{item.price}} {{item.currency}}", url = "{{item.url}}", catalogItem = "T-42" },
        });
        var preview = await app.Rest().PostOk($"/api/v1/campaigns/{id}/preview", $$"""{"installationId":"{{phone}}"}""");
        var r = preview.GetProperty("rendered");
        r.GetProperty("title").GetString().ShouldBe("Trail runner is back");
        r.GetProperty("body").GetString().ShouldBe("kırmızı · 1499.90 TRY");
        r.GetProperty("url").GetString().ShouldBe("https://shop.example/p/t42");

        // A catalog item template that does not compile is refused when saved, with its position.
        using var bad = await app.Rest().PostAsJsonAsync("/api/v1/campaigns", new { name = "x", channel = "push", audience = new { all = true }, content = new { title = "t", body = "b", catalogItem = "{{#if event.sku}}" } }, Ct);
        await bad.ShouldBeProblem(HttpStatusCode.UnprocessableEntity, "content.catalogItem");
    }
}

[Collection(SqliteCollection.Name)]
public sealed class CatalogTestsSqlite(SqliteHost host) : CatalogTests(host);

[Collection(PostgresCollection.Name)]
public sealed class CatalogTestsPostgres(PostgresHost host) : CatalogTests(host);
