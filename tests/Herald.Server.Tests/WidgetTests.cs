using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Herald.Tests;

public abstract class WidgetTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static readonly byte[] Png = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, (byte)'I', (byte)'H', (byte)'D', (byte)'R'];

    private static ByteArrayContent File(byte[] bytes, string claimedType)
    {
        var c = new ByteArrayContent(bytes);
        c.Headers.ContentType = new MediaTypeHeaderValue(claimedType);
        return c;
    }

    private static byte[] Padded(byte[] head, int length)
    {
        var b = new byte[length];
        head.CopyTo(b, 0);
        return b;
    }

    private static object Widget(object? layout = null, object? rules = null, string name = "Spring sale") => new
    {
        name,
        layout = layout ?? new
        {
            title = "20% off", text = "Only this week",
            buttons = new object[] { new { text = "Shop", action = "url", target = "https://shop.example/sale" }, new { text = "No thanks", action = "dismiss" } },
            colors = new { background = "#ffffff", button = "#1a73e8" },
            position = "bottom-right",
        },
        rules = rules ?? new { urlPattern = "/shop/*", frequency = "once_per_session" },
    };

    [Fact]
    public async Task A_widget_is_created_read_updated_listed_and_deleted()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        using var res = await rest.PostAsJsonAsync("/api/v1/widgets", Widget(), Ct);
        var w = await res.Content.ReadFromJsonAsync<JsonElement>(Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.Created, w.ToString());
        var id = w.GetProperty("id").GetInt64();
        w.GetProperty("layout").GetProperty("buttons").GetArrayLength().ShouldBe(2);

        using var put = await rest.PutAsJsonAsync($"/api/v1/widgets/{id}", Widget(name: "Summer sale"), Ct);
        put.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await rest.GetJson($"/api/v1/widgets/{id}")).GetProperty("name").GetString().ShouldBe("Summer sale");
        (await rest.GetJson("/api/v1/widgets")).GetArrayLength().ShouldBe(1);

        var other = await host.NewAppAsync();
        await (await other.Rest().GetAsync($"/api/v1/widgets/{id}", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);

        (await rest.DeleteAsync($"/api/v1/widgets/{id}", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await (await rest.GetAsync($"/api/v1/widgets/{id}", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("""{"name":"x","layout":{"title":"t","position":"middle"}}""", "layout.position")]
    [InlineData("""{"name":"x","layout":{"title":"t","colors":{"background":"red"}}}""", "layout.colors.background")]
    [InlineData("""{"name":"x","layout":{"title":"t","buttons":[{"text":"Go","action":"url","target":"javascript:alert(1)"}]}}""", "layout.buttons[0].target")]
    [InlineData("""{"name":"x","layout":{"title":"t","buttons":[{"text":"Go","action":"teleport"}]}}""", "layout.buttons[0].action")]
    [InlineData("""{"name":"x","layout":{"title":"t","buttons":[{"text":"a","action":"dismiss"},{"text":"b","action":"dismiss"},{"text":"c","action":"dismiss"},{"text":"d","action":"dismiss"}]}}""", "layout.buttons")]
    [InlineData("""{"name":"x","layout":{"title":"t","imageAsset":"nope"}}""", "layout.imageAsset")]
    [InlineData("""{"name":"x","layout":{"title":"t"},"rules":{"frequency":"hourly"}}""", "rules.frequency")]
    [InlineData("""{"name":"x","layout":{"title":"t"},"rules":{"segmentId":999999}}""", "rules.segmentId")]
    [InlineData("""{"name":"x","layout":{"title":"t"},"rules":{"startAt":"2026-05-02T00:00:00Z","endAt":"2026-05-01T00:00:00Z"}}""", "rules.endAt")]
    [InlineData("""{"name":"","layout":{"title":"t"}}""", "name")]
    [InlineData("""{"name":"x","layout":{}}""", "layout.title")]
    public async Task Bad_widgets_are_refused_naming_the_field(string json, string field)
    {
        var app = await host.NewAppAsync();
        await (await app.Rest().PostAsync("/api/v1/widgets", Http.Json(json), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, field);
    }

    [Fact]
    public async Task An_asset_in_use_is_not_deleted_and_one_unused_is()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        using var up = await rest.PostAsync("/api/v1/widgets/assets", File(Padded(Png, 512), "image/png"), Ct);
        var key = (await up.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("key").GetString()!;
        using var created = await rest.PostAsJsonAsync("/api/v1/widgets", new { name = "Banner", layout = new { title = "Hi", imageAsset = key } }, Ct);
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();

        var inUse = await (await rest.DeleteAsync($"/api/v1/widgets/assets/{key}", Ct)).ShouldBeProblem(HttpStatusCode.Conflict, "key");
        inUse.GetProperty("detail").GetString()!.ShouldContain($"'Banner' (#{id})");
        // Another app cannot delete it, nor learn that it exists.
        var other = await host.NewAppAsync();
        await (await other.Rest().DeleteAsync($"/api/v1/widgets/assets/{key}", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);

        (await rest.PutAsJsonAsync($"/api/v1/widgets/{id}", new { name = "Banner", layout = new { title = "Hi" } }, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await rest.DeleteAsync($"/api/v1/widgets/assets/{key}", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await rest.GetJson("/api/v1/widgets/assets")).GetArrayLength().ShouldBe(0);
        (await host.Client().GetAsync($"/sdk/v1/assets/{key}", Ct)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        await (await rest.DeleteAsync($"/api/v1/widgets/assets/{key}", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
        // Not a key at all: too long, or characters an upload never answers.
        (await (await rest.DeleteAsync($"/api/v1/widgets/assets/{new string('a', 65)}", Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "key"))
            .GetProperty("limit").GetInt32().ShouldBe(64);
        await (await rest.DeleteAsync("/api/v1/widgets/assets/%C3%A9x", Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "key");
    }

    [Fact]
    public async Task Assets_are_typed_by_their_bytes_and_limited_by_kind()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        // A PNG named and labelled as a video is still an image.
        using var ok = await rest.PostAsync("/api/v1/widgets/assets", File(Padded(Png, 2048), "video/mp4"), Ct);
        var asset = await ok.Content.ReadFromJsonAsync<JsonElement>(Ct);
        ok.StatusCode.ShouldBe(HttpStatusCode.Created, asset.ToString());
        asset.GetProperty("contentType").GetString().ShouldBe("image/png");
        asset.GetProperty("kind").GetString().ShouldBe("image");

        using var served = await host.Client().GetAsync(new Uri(asset.GetProperty("url").GetString()!).PathAndQuery, Ct);
        served.StatusCode.ShouldBe(HttpStatusCode.OK);
        served.Content.Headers.ContentType!.MediaType.ShouldBe("image/png");
        (await served.Content.ReadAsByteArrayAsync(Ct)).Length.ShouldBe(2048);

        // Text labelled as an image is not one.
        await (await rest.PostAsync("/api/v1/widgets/assets", File("<svg onload=alert(1)>"u8.ToArray(), "image/png"), Ct))
            .ShouldBeProblem(HttpStatusCode.UnsupportedMediaType, "body");

        var bigImage = await (await rest.PostAsync("/api/v1/widgets/assets", File(Padded(Png, 1024 * 1024 + 1), "image/png"), Ct))
            .ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "body");
        bigImage.GetProperty("limit").GetInt32().ShouldBe(1024 * 1024);
        bigImage.GetProperty("detail").GetString()!.ShouldContain("1 MB");

        // An MP4 ('ftyp' box) of 2 MB is fine; one over 12 MB is not.
        byte[] mp4Head = [0, 0, 0, 0x18, (byte)'f', (byte)'t', (byte)'y', (byte)'p', (byte)'i', (byte)'s', (byte)'o', (byte)'m'];
        using var video = await rest.PostAsync("/api/v1/widgets/assets", File(Padded(mp4Head, 2 * 1024 * 1024), "application/octet-stream"), Ct);
        video.StatusCode.ShouldBe(HttpStatusCode.Created);
        var bigVideo = await (await rest.PostAsync("/api/v1/widgets/assets", File(Padded(mp4Head, 12 * 1024 * 1024 + 1), "video/mp4"), Ct))
            .ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "body");
        bigVideo.GetProperty("limit").GetInt32().ShouldBe(12 * 1024 * 1024);

        // A widget cannot show a video as its image.
        var videoKey = (await video.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("key").GetString();
        await (await rest.PostAsJsonAsync("/api/v1/widgets", Widget(layout: new { title = "t", imageAsset = videoKey }), Ct))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "layout.imageAsset");
    }

    [Fact]
    public async Task The_sdk_gets_active_widgets_in_their_time_window_with_asset_urls()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        using var up = await rest.PostAsync("/api/v1/widgets/assets", File(Padded(Png, 100), "image/png"), Ct);
        var key = (await up.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("key").GetString();
        var now = host.Clock.GetUtcNow();
        (await rest.PostAsJsonAsync("/api/v1/widgets", Widget(layout: new { title = "Now", imageAsset = key }), Ct)).EnsureSuccessStatusCode();
        (await rest.PostAsJsonAsync("/api/v1/widgets", Widget(rules: new { startAt = now.AddDays(1) }, name: "Later"), Ct)).EnsureSuccessStatusCode();
        (await rest.PostAsJsonAsync("/api/v1/widgets", Widget(rules: new { endAt = now.AddMinutes(-1) }, name: "Over"), Ct)).EnsureSuccessStatusCode();
        (await rest.PostAsJsonAsync("/api/v1/widgets", new { name = "Off", active = false, layout = new { title = "off" } }, Ct)).EnsureSuccessStatusCode();

        var device = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"web","anonymousId":"a-1"}""")).GetProperty("installationId").GetString();
        var list = await app.Sdk().GetJson($"/sdk/v1/widgets?installationId={device}");
        var widgets = list.GetProperty("widgets");
        widgets.GetArrayLength().ShouldBe(1, list.ToString());
        widgets[0].GetProperty("name").GetString().ShouldBe("Spring sale");
        widgets[0].GetProperty("layout").GetProperty("imageUrl").GetString()!.ShouldEndWith("/sdk/v1/assets/" + key);
        widgets[0].GetProperty("rules").GetProperty("urlPattern").GetString().ShouldBe("/shop/*");

        await (await app.Sdk().GetAsync("/sdk/v1/widgets?installationId=unknown", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Web_sdk_settings_and_config_carry_the_prompt_and_vapid_key()
    {
        var app = await host.NewAppAsync();
        await (await app.Rest().PutAsJsonAsync("/api/v1/app/web-sdk", new { optInPrompt = new { title = "Hi", text = "t", acceptText = "Yes", laterText = "No", delaySeconds = 9000, laterDays = 3 } }, Ct))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "optInPrompt.delaySeconds");
        using var put = await app.Rest().PutAsJsonAsync("/api/v1/app/web-sdk", new { optInPrompt = new { enabled = true, title = "Hi", text = "t", acceptText = "Yes", laterText = "No", delaySeconds = 0, laterDays = 3 } }, Ct);
        put.StatusCode.ShouldBe(HttpStatusCode.OK);
        var config = await app.Sdk().GetJson("/sdk/v1/config");
        config.GetProperty("optInPrompt").GetProperty("title").GetString().ShouldBe("Hi");
        config.GetProperty("vapidPublicKey").GetString().ShouldBe((await app.Rest().GetJson("/api/v1/app")).GetProperty("vapidPublicKey").GetString());
        // The SDK key may read the config but not change it.
        (await app.Sdk().PutAsJsonAsync("/api/v1/app/web-sdk", new { }, Ct)).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task The_scripts_are_served_as_javascript_with_cors_for_the_sdk_api()
    {
        using var c = host.Client();
        using var js = await c.GetAsync("/sdk/web/herald.js", Ct);
        js.StatusCode.ShouldBe(HttpStatusCode.OK);
        js.Content.Headers.ContentType!.MediaType.ShouldBe("text/javascript");
        (await js.Content.ReadAsStringAsync(Ct)).ShouldContain("herald.init");
        using var sw = await c.GetAsync("/sdk/web/herald-sw.js", Ct);
        sw.Headers.GetValues("Service-Worker-Allowed").ShouldBe(["/"]);
        (await sw.Content.ReadAsStringAsync(Ct)).ShouldContain("notificationclick");

        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/sdk/v1/events");
        preflight.Headers.Add("Origin", "https://shop.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        using var res = await c.SendAsync(preflight, Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        res.Headers.GetValues("Access-Control-Allow-Origin").ShouldBe(["*"]);
        res.Headers.GetValues("Access-Control-Allow-Headers").Single().ShouldContain("X-Herald-Key");
    }
}

[Collection(SqliteCollection.Name)]
public sealed class WidgetTestsSqlite(SqliteHost host) : WidgetTests(host);

[Collection(PostgresCollection.Name)]
public sealed class WidgetTestsPostgres(PostgresHost host) : WidgetTests(host);
