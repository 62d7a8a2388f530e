using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Herald.Tests;

public abstract class IngestTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Basic(string key) => Convert.ToBase64String(Encoding.UTF8.GetBytes(key + ":"));

    private static HttpClient SegmentClient(HeraldHost host, TestApp app)
    {
        var c = host.Client();
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Basic(app.SdkKey));
        return c;
    }

    private async Task<string> RegisterAsync(TestApp app, string json = """{"platform":"android","pushToken":"t1","pushEnabled":true,"timezone":"Europe/Istanbul","locale":"tr-TR"}""")
    {
        var r = await app.Sdk().PostOk("/sdk/v1/devices", json);
        return r.GetProperty("installationId").GetString()!;
    }

    [Fact]
    public async Task Readme_identify_and_track_land_and_are_visible_through_the_rest_api()
    {
        var app = await host.NewAppAsync();
        var seg = SegmentClient(host, app);
        await seg.PostOk("/v1/identify", """{"userId":"u-42","anonymousId":"anon-1","traits":{"email":"sukru@example.com","first_name":"Şükrü","age":31,"vip":true,"birthday":"1990-05-01","tags":["a","b"]}}""");
        await seg.PostOk("/v1/track", """{"userId":"u-42","event":"Search","properties":{"query":"kırmızı ayakkabı"},"messageId":"m-1","timestamp":"2026-11-25T11:00:00Z"}""");

        var user = await app.Rest().GetJson("/api/v1/users/u-42");
        user.GetProperty("email").GetString().ShouldBe("sukru@example.com");
        var attrs = user.GetProperty("attributes");
        attrs.GetProperty("first_name").GetString().ShouldBe("Şükrü");
        attrs.GetProperty("age").GetInt32().ShouldBe(31);
        attrs.GetProperty("vip").GetBoolean().ShouldBeTrue();
        attrs.GetProperty("birthday").GetString().ShouldBe("1990-05-01T00:00:00.000Z");
        attrs.GetProperty("tags").GetArrayLength().ShouldBe(2);
        user.GetProperty("devices").GetArrayLength().ShouldBe(1);

        var events = await app.Rest().GetJson("/api/v1/users/u-42/events");
        events.GetArrayLength().ShouldBe(1);
        events[0].GetProperty("name").GetString().ShouldBe("Search");
        events[0].GetProperty("attributes").GetProperty("query").GetString().ShouldBe("kırmızı ayakkabı");
        events[0].GetProperty("occurredAt").GetInt64().ShouldBe(DateTimeOffset.Parse("2026-11-25T11:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task Write_key_in_the_body_and_gzip_with_a_misleading_content_type_work()
    {
        var app = await host.NewAppAsync();
        var json = $$$"""{"writeKey":"{{{app.SdkKey}}}","batch":[{"type":"track","userId":"g1","event":"Gz","messageId":"gz-1"},{"type":"page","anonymousId":"a-g","name":"Home","messageId":"gz-2","properties":{"url":"https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=black%20friday"}}]}""";
        using var ms = new MemoryStream();
        await using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            await gz.WriteAsync(Encoding.UTF8.GetBytes(json), Ct);
        var content = new ByteArrayContent(ms.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        content.Headers.ContentEncoding.Add("gzip");
        using var res = await host.Client().PostAsync("/v1/batch", content, Ct);
        var body = await res.Content.ReadAsStringAsync(Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.OK, body);
        JsonDocument.Parse(body).RootElement.GetProperty("accepted").GetInt32().ShouldBe(2);

        var user = await app.Rest().GetJson("/api/v1/users/g1/events");
        user[0].GetProperty("name").GetString().ShouldBe("Gz");
    }

    [Fact]
    public async Task Utm_and_revenue_are_stored_for_analytics()
    {
        var app = await host.NewAppAsync();
        var seg = SegmentClient(host, app);
        await seg.PostOk("/v1/page", """{"userId":"utm-user","name":"Landing","messageId":"p-1","properties":{"url":"https://shop.example/l?utm_source=google&utm_medium=cpc&utm_campaign=kış%20indirimi&utm_term=bot&utm_content=ad1"}}""");
        await seg.PostOk("/v1/track", """{"userId":"utm-user","event":"Order Completed","messageId":"p-2","properties":{"revenue":149.9,"currency":"try"},"context":{"campaign":{"name":"newsletter","source":"herald","medium":"push"}}}""");
        var events = await app.Rest().GetJson("/api/v1/users/utm-user/events");
        var page = events.EnumerateArray().Single(e => e.GetProperty("name").GetString() == "page_view");
        page.GetProperty("utmSource").GetString().ShouldBe("google");
        page.GetProperty("utmCampaign").GetString().ShouldBe("kış indirimi");
        page.GetProperty("utmContent").GetString().ShouldBe("ad1");
        var order = events.EnumerateArray().Single(e => e.GetProperty("name").GetString() == "Order Completed");
        order.GetProperty("revenue").GetDouble().ShouldBe(149.9);
        order.GetProperty("currency").GetString().ShouldBe("TRY");
        order.GetProperty("utmCampaign").GetString().ShouldBe("newsletter");
        order.GetProperty("utmMedium").GetString().ShouldBe("push");

        var dev = await RegisterAsync(app);
        await app.Sdk().PostOk("/sdk/v1/events", $$$"""{"installationId":"{{{dev}}}","events":[{"messageId":"buy-1","name":"purchase","timestamp":"2026-11-25T11:00:00Z","revenue":{"amount":42.5,"currency":"EUR"}}]}""");
        var devEvents = await app.Rest().GetJson($"/api/v1/devices/{dev}/events");
        devEvents[0].GetProperty("revenue").GetDouble().ShouldBe(42.5);
        devEvents[0].GetProperty("currency").GetString().ShouldBe("EUR");
    }

    [Fact]
    public async Task Offline_batches_keep_device_time_correct_skew_and_never_double_count()
    {
        var app = await host.NewAppAsync();
        var dev = await RegisterAsync(app);
        // The device clock runs 10 minutes fast; events happened 3 days ago (device time) and are sent now.
        var now = host.Clock.GetUtcNow();
        var skew = TimeSpan.FromMinutes(10);
        var happened = now.AddDays(-3);
        string Batch() => $$$"""
            {"installationId":"{{{dev}}}","sentAt":"{{{(now + skew):O}}}","events":[
              {"messageId":"off-1","name":"app_open","timestamp":"{{{(happened + skew):O}}}"},
              {"messageId":"off-2","name":"search","timestamp":"{{{(happened + skew).AddMinutes(1):O}}}","attributes":{"q":"çay"}}]}
            """;
        var first = await app.Sdk().PostOk("/sdk/v1/events", Batch());
        first.GetProperty("accepted").GetInt32().ShouldBe(2);
        first.GetProperty("duplicates").GetInt32().ShouldBe(0);
        var retry = await app.Sdk().PostOk("/sdk/v1/events", Batch());
        retry.GetProperty("accepted").GetInt32().ShouldBe(2);
        retry.GetProperty("duplicates").GetInt32().ShouldBe(2);

        var events = await app.Rest().GetJson($"/api/v1/devices/{dev}/events");
        events.GetArrayLength().ShouldBe(2);
        var open = events.EnumerateArray().Single(e => e.GetProperty("name").GetString() == "app_open");
        open.GetProperty("occurredAt").GetInt64().ShouldBe(happened.ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task Sdk_batches_keep_escapes_and_unicode_exactly_and_name_bad_nesting_and_numbers()
    {
        var app = await host.NewAppAsync();
        var dev = await RegisterAsync(app);
        var at = host.Clock.GetUtcNow().AddMinutes(-5).ToUnixTimeMilliseconds();
        var json = $$$"""
            {"installationId":"{{{dev}}}","events":[
              {"messageId":"esc-\u0031","name":"caf\u00e9","timestamp":{{{at}}},"attributes":{"q":"\"quoted\" \\ back\nline \u0130stanbul \ud83d\ude00","t\u00fcr":"çay","list":["a\/b"],"nested":{"k":[1,{"m":null}]} } },
              {"messageId":"esc-2","name":"purchase","timestamp":{{{at}}},"attributes":{"amount":12.5,"currency":"try","url":"https://x.test/?utm_source=n%C3%BCsha&utm_medium=e+mail"}},
              {"messageId":"esc-3","name":"push_opened","timestamp":{{{at}}},"revenue":{"amount":3,"currency":"eur"},"utm":{"source":"s","campaign":"c"},"attributes":{"message_id":"msg-7"}}]}
            """;
        var r = await app.Sdk().PostOk("/sdk/v1/events", json);
        r.GetProperty("accepted").GetInt32().ShouldBe(3);

        var events = (await app.Rest().GetJson($"/api/v1/devices/{dev}/events")).EnumerateArray().ToDictionary(e => e.GetProperty("messageId").GetString()!);
        events.Keys.Order().ShouldBe(["esc-1", "esc-2", "esc-3"]);
        var first = events["esc-1"];
        first.GetProperty("name").GetString().ShouldBe("café");
        var attrs = first.GetProperty("attributes");
        attrs.GetProperty("q").GetString().ShouldBe("\"quoted\" \\ back\nline İstanbul 😀");
        attrs.GetProperty("tür").GetString().ShouldBe("çay");
        attrs.GetProperty("list")[0].GetString().ShouldBe("a/b");
        attrs.GetProperty("nested").GetProperty("k")[1].GetProperty("m").ValueKind.ShouldBe(JsonValueKind.Null);
        var purchase = events["esc-2"];
        purchase.GetProperty("revenue").GetDouble().ShouldBe(12.5);
        purchase.GetProperty("currency").GetString().ShouldBe("TRY");
        purchase.GetProperty("utmSource").GetString().ShouldBe("nüsha");
        purchase.GetProperty("utmMedium").GetString().ShouldBe("e mail");
        var opened = events["esc-3"];
        opened.GetProperty("revenue").GetDouble().ShouldBe(3);
        opened.GetProperty("currency").GetString().ShouldBe("EUR");
        opened.GetProperty("utmSource").GetString().ShouldBe("s");
        opened.GetProperty("utmCampaign").GetString().ShouldBe("c");
        opened.GetProperty("attributes").GetProperty("message_id").GetString().ShouldBe("msg-7");

        // Bad items are named and the rest of the batch is kept.
        var deepAttrs = "{\"deep\":" + string.Concat(Enumerable.Repeat("{\"a\":", 20)) + "1" + new string('}', 21);
        var mixed = $$$"""
            {"installationId":"{{{dev}}}","events":[
              {"messageId":"bad-1","name":"n","timestamp":{{{at}}},"attributes":{"n":1e16}},
              {"messageId":"bad-2","name":"n","timestamp":{{{at}}},"attributes":{"n":-1e400}},
              {"messageId":"bad-3","name":"n","timestamp":{{{at}}},"attributes":{"s":"{{{string.Concat(Enumerable.Repeat("\\u00e7", 1025))}}}"}},
              {"messageId":"ok-4","name":"n","timestamp":{{{at}}},"attributes":{{{deepAttrs}}}},
              {"messageId":"bad-5","name":"n","timestamp":{{{at}}},"revenue":{"amount":1,"currency":"dollars"}}]}
            """;
        var m = await app.Sdk().PostOk("/sdk/v1/events", mixed);
        m.GetProperty("accepted").GetInt32().ShouldBe(1);
        var rejected = m.GetProperty("rejected").EnumerateArray().ToList();
        rejected.Select(x => x.GetProperty("field").GetString()).ShouldBe(["events[0].attributes.n", "events[1].attributes.n", "events[2].attributes.s", "events[4].revenue.currency"]);
        rejected[2].GetProperty("limit").GetInt32().ShouldBe(1024);

        // Nesting beyond 32 levels is not JSON Herald reads: the whole body is refused.
        var tooDeep = "{\"deep\":" + string.Concat(Enumerable.Repeat("{\"a\":", 40)) + "1" + new string('}', 41);
        var body = $$$"""{"installationId":"{{{dev}}}","events":[{"messageId":"d","name":"n","timestamp":{{{at}}},"attributes":{{{tooDeep}}}}]}""";
        await (await app.Sdk().PostAsync("/sdk/v1/events", Http.Json(body), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "body");
        (await app.Rest().GetJson($"/api/v1/devices/{dev}/events")).GetArrayLength().ShouldBe(4);
    }

    [Fact]
    public async Task Concurrent_retries_of_one_batch_store_each_event_once()
    {
        var app = await host.NewAppAsync();
        var dev = await RegisterAsync(app);
        var items = string.Join(",", Enumerable.Range(0, 50).Select(i => $$$"""{"messageId":"c-{{{i}}}","name":"tick","timestamp":"2026-11-25T11:00:00Z"}"""));
        var json = $$$"""{"installationId":"{{{dev}}}","events":[{{{items}}}]}""";
        var sdk = app.Sdk();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => sdk.PostOk("/sdk/v1/events", json)));
        (await app.Rest().GetJson($"/api/v1/devices/{dev}/events?limit=1000")).GetArrayLength().ShouldBe(50);
    }

    [Fact]
    public async Task An_event_over_a_limit_is_rejected_by_name_and_the_rest_of_the_batch_is_kept()
    {
        var app = await host.NewAppAsync();
        var attrs26 = string.Join(",", Enumerable.Range(0, 26).Select(i => $"\"a{i}\":{i}"));
        var longString = new string('x', 1025);
        var json = $$$"""
            {"batch":[
              {"type":"track","userId":"lim","event":"ok1","messageId":"l-1"},
              {"type":"track","userId":"lim","event":"too-many","messageId":"l-2","properties":{{{{attrs26}}}}},
              {"type":"track","userId":"lim","event":"long","messageId":"l-3","properties":{"note":"{{{longString}}}"}},
              {"type":"track","userId":"lim","event":"big-number","messageId":"l-4","properties":{"n":1e300}},
              {"type":"track","userId":"lim","event":"ok2","messageId":"l-5","properties":{"fine":"ok"}},
              {"type":"track","event":"nobody","messageId":"l-6"},
              {"type":"warp","userId":"lim","messageId":"l-7"}
            ]}
            """;
        var r = await SegmentClient(host, app).PostOk("/v1/batch", json);
        r.GetProperty("accepted").GetInt32().ShouldBe(2);
        var rejected = r.GetProperty("rejected").EnumerateArray().ToList();
        rejected.Select(x => x.GetProperty("index").GetInt32()).ShouldBe([1, 2, 3, 5, 6]);
        rejected[0].GetProperty("field").GetString().ShouldBe("batch[1].properties");
        rejected[0].GetProperty("detail").GetString()!.ShouldContain("25");
        rejected[0].GetProperty("limit").GetInt32().ShouldBe(25);
        rejected[1].GetProperty("field").GetString().ShouldBe("batch[2].properties.note");
        rejected[1].GetProperty("limit").GetInt32().ShouldBe(1024);
        rejected[2].GetProperty("field").GetString().ShouldBe("batch[3].properties.n");
        rejected[3].GetProperty("field").GetString().ShouldBe("batch[5].userId");

        var names = (await app.Rest().GetJson("/api/v1/users/lim/events")).EnumerateArray().Select(e => e.GetProperty("name").GetString()).Order().ToList();
        names.ShouldBe(["ok1", "ok2"]);
    }

    [Fact]
    public async Task Bad_input_gets_problem_details_and_never_takes_the_node_down()
    {
        var app = await host.NewAppAsync();
        var seg = SegmentClient(host, app);
        await (await seg.PostAsync("/v1/track", Http.Json("{\"userId\":\"x\",\"event\":"), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "body");
        await (await seg.PostAsync("/v1/track", Http.Json("""{"userId":"x","event":42}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "body.event");
        await (await seg.PostAsync("/v1/track", Http.Json("""{"userId":"x","event":"e","timestamp":"yesterday"}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "body.timestamp");
        await (await seg.PostAsync("/v1/track", Http.Json("[1,2]"), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest);
        await (await seg.PostAsync("/v1/batch", Http.Json("""{"batch":"nope"}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "batch");
        var allBad = await (await seg.PostAsync("/v1/batch", Http.Json("""{"batch":[{"type":"track","event":"x"}]}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest);
        allBad.GetProperty("rejected").GetArrayLength().ShouldBe(1);

        var invalidUtf8 = new ByteArrayContent([.. "{\"userId\":\"x\",\"event\":\""u8.ToArray(), 0xC3, 0x28, .. "\"}"u8.ToArray()]);
        invalidUtf8.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        await (await seg.PostAsync("/v1/track", invalidUtf8, Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "body");

        var sdk = app.Sdk();
        await (await sdk.PostAsync("/sdk/v1/devices", Http.Json("""{"platform":"symbian"}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "platform");
        await (await sdk.PostAsync("/sdk/v1/devices", Http.Json("""{"platform":"ios","timezone":"Europe/Atlantis"}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "timezone");
        await (await sdk.PostAsync("/sdk/v1/devices", Http.Json("""{"platform":"ios","pushEnabled":"yes"}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "pushEnabled");
        await (await sdk.PostAsync("/sdk/v1/devices", Http.Json("""{"platform":"ios","location":{"lat":91,"lon":0}}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "location.lat");
        await (await sdk.PostAsync("/sdk/v1/events", Http.Json("""{"installationId":"nope","events":[{"messageId":"1","name":"x","timestamp":1}]}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest);

        var wrong = host.Client();
        wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Basic("hsk_wrong-key-value-000"));
        await (await wrong.PostAsync("/v1/track", Http.Json("""{"userId":"x","event":"e"}"""), Ct)).ShouldBeProblem(HttpStatusCode.Unauthorized);
        await (await host.Client().PostAsync("/v1/track", Http.Json("""{"userId":"x","event":"e"}"""), Ct)).ShouldBeProblem(HttpStatusCode.Unauthorized);

        // Still serving.
        await seg.PostOk("/v1/track", """{"userId":"x","event":"after","messageId":"after-1"}""");
    }

    [Fact]
    public async Task Oversized_bodies_and_gzip_bombs_are_refused_with_the_limit()
    {
        var app = await host.NewAppAsync();
        var seg = SegmentClient(host, app);
        var hugeItems = string.Join(",", Enumerable.Range(0, 600).Select(i => $$$"""{"type":"track","userId":"u","event":"e","messageId":"{{{i}}}","properties":{"pad":"{{{new string('p', 900)}}}"}}"""));
        var huge = $$$"""{"batch":[{{{hugeItems}}}]}""";
        var p = await (await seg.PostAsync("/v1/batch", Http.Json(huge), Ct)).ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "body");
        p.GetProperty("limit").GetInt32().ShouldBe(500 * 1024);

        var single = $$$"""{"userId":"u","event":"e","properties":{"pad":"{{{new string('p', 33_000)}}}"}}""";
        await (await seg.PostAsync("/v1/track", Http.Json(single), Ct)).ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "body");

        // 50 MB of zeros compress to ~50 KB: the inflater must stop at the limit.
        using var ms = new MemoryStream();
        await using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i < 50; i++) await gz.WriteAsync(zeros, Ct);
        }
        ms.Length.ShouldBeLessThan(500 * 1024);
        var bomb = new ByteArrayContent(ms.ToArray());
        bomb.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        bomb.Headers.ContentEncoding.Add("gzip");
        await (await seg.PostAsync("/v1/batch", bomb, Ct)).ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "body");

        var corrupt = new ByteArrayContent([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5]);
        corrupt.Headers.ContentEncoding.Add("gzip");
        await (await seg.PostAsync("/v1/batch", corrupt, Ct)).ShouldBeProblem(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Events_too_old_or_in_the_future_are_rejected_with_the_reason()
    {
        var app = await host.NewAppAsync();
        var dev = await RegisterAsync(app);
        var now = host.Clock.GetUtcNow();
        var r = await app.Sdk().PostOk("/sdk/v1/events", $$$"""
            {"installationId":"{{{dev}}}","events":[
              {"messageId":"t-1","name":"late","timestamp":"{{{now.AddDays(-30):O}}}"},
              {"messageId":"t-2","name":"ancient","timestamp":"{{{now.AddDays(-400):O}}}"},
              {"messageId":"t-3","name":"future","timestamp":"{{{now.AddDays(3):O}}}"}]}
            """);
        r.GetProperty("accepted").GetInt32().ShouldBe(1);
        var rej = r.GetProperty("rejected").EnumerateArray().ToList();
        rej.Select(x => x.GetProperty("field").GetString()).ShouldBe(["events[1].timestamp", "events[2].timestamp"]);
        rej[0].GetProperty("detail").GetString()!.ShouldContain("365-day");
    }

    [Fact]
    public async Task Identify_merges_the_anonymous_history_into_the_user_and_one_user_owns_many_devices()
    {
        var app = await host.NewAppAsync();
        var phone = await RegisterAsync(app);
        var tablet = await RegisterAsync(app, """{"platform":"ios","pushToken":"apns-1","pushEnabled":false}""");
        await app.Sdk().PostOk("/sdk/v1/events", $$$"""{"installationId":"{{{phone}}}","events":[{"messageId":"h-1","name":"app_open","timestamp":"2026-11-25T10:00:00Z"},{"messageId":"h-2","name":"view_item","timestamp":"2026-11-25T10:01:00Z","attributes":{"sku":"A-1"}}]}""");
        (await app.Rest().GetJson("/api/v1/users/ayse/events")).GetArrayLength().ShouldBe(0);

        await app.Sdk().PostOk("/sdk/v1/identify", $$$"""{"installationId":"{{{phone}}}","externalId":"ayse","email":"ayse@example.com","optIn":{"sms":false},"attributes":{"city":"İzmir"}}""");
        await app.Sdk().PostOk("/sdk/v1/identify", $$$"""{"installationId":"{{{tablet}}}","externalId":"ayse"}""");

        var user = await app.Rest().GetJson("/api/v1/users/ayse");
        user.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("installationId").GetString()).Order().ShouldBe(new[] { phone, tablet }.Order());
        user.GetProperty("optInSms").GetBoolean().ShouldBeFalse();
        user.GetProperty("attributes").GetProperty("city").GetString().ShouldBe("İzmir");
        (await app.Rest().GetJson("/api/v1/users/ayse/events")).GetArrayLength().ShouldBe(2);

        var device = await app.Rest().GetJson($"/api/v1/devices/{tablet}");
        device.GetProperty("platform").GetString().ShouldBe("ios");
        device.GetProperty("externalId").GetString().ShouldBe("ayse");
        device.GetProperty("pushEnabled").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task Devices_registered_at_once_get_dense_ordinals()
    {
        var app = await host.NewAppAsync();
        var sdk = app.Sdk();
        var ids = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => sdk.PostOk("/sdk/v1/devices", $$$"""{"platform":"ios","pushToken":"tok-{{{i}}}"}""")));
        var ordinals = new List<int>();
        foreach (var r in ids)
            ordinals.Add((await app.Rest().GetJson($"/api/v1/devices/{r.GetProperty("installationId").GetString()}")).GetProperty("ordinal").GetInt32());
        ordinals.Order().ShouldBe(Enumerable.Range(0, 40));
    }

    [Fact]
    public async Task Device_updates_change_only_the_fields_sent()
    {
        var app = await host.NewAppAsync();
        var id = await RegisterAsync(app);
        var again = await app.Sdk().PostOk("/sdk/v1/devices", $$$"""{"installationId":"{{{id}}}","platform":"android","appVersion":"2.0.1","location":{"lat":41.01,"lon":28.97}}""");
        again.GetProperty("installationId").GetString().ShouldBe(id);
        var d = await app.Rest().GetJson($"/api/v1/devices/{id}");
        d.GetProperty("appVersion").GetString().ShouldBe("2.0.1");
        d.GetProperty("pushToken").GetString().ShouldBe("t1");
        d.GetProperty("timezone").GetString().ShouldBe("Europe/Istanbul");
        d.GetProperty("locale").GetString().ShouldBe("tr-TR");
        d.GetProperty("latitude").GetDouble().ShouldBe(41.01);
    }

    [Fact]
    public async Task Segment_alias_merges_an_old_user_into_the_new_one()
    {
        var app = await host.NewAppAsync();
        var seg = SegmentClient(host, app);
        await seg.PostOk("/v1/identify", """{"userId":"old-id","traits":{"plan":"free","country":"TR"}}""");
        await seg.PostOk("/v1/track", """{"userId":"old-id","event":"signup","messageId":"al-1"}""");
        await seg.PostOk("/v1/identify", """{"userId":"new-id","traits":{"plan":"pro"}}""");
        await seg.PostOk("/v1/alias", """{"previousId":"old-id","userId":"new-id"}""");

        var user = await app.Rest().GetJson("/api/v1/users/new-id");
        user.GetProperty("attributes").GetProperty("plan").GetString().ShouldBe("pro");
        user.GetProperty("attributes").GetProperty("country").GetString().ShouldBe("TR");
        (await app.Rest().GetJson("/api/v1/users/new-id/events")).GetArrayLength().ShouldBe(1);
        // The old id resolves to the merged user.
        (await app.Rest().GetJson("/api/v1/users/old-id")).GetProperty("ordinal").GetInt32().ShouldBe(user.GetProperty("ordinal").GetInt32());

        // Alias of an anonymous id attaches that visitor's history.
        await seg.PostOk("/v1/track", """{"anonymousId":"visitor-9","event":"browse","messageId":"al-2"}""");
        await seg.PostOk("/v1/alias", """{"previousId":"visitor-9","userId":"new-id"}""");
        (await app.Rest().GetJson("/api/v1/users/new-id/events")).GetArrayLength().ShouldBe(2);
    }

    [Fact]
    public async Task Attribute_types_are_fixed_by_first_use_and_a_mismatch_is_named()
    {
        var app = await host.NewAppAsync();
        using (var ok = await app.Rest().PutAsync("/api/v1/users/t-1", Http.Json("""{"email":"t@example.com","attributes":{"score":10,"nick":"x"}}"""), Ct))
            ok.StatusCode.ShouldBe(HttpStatusCode.OK);
        var p = await (await app.Rest().PutAsync("/api/v1/users/t-2", Http.Json("""{"attributes":{"score":"ten"}}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "attributes.score");
        p.GetProperty("detail").GetString()!.ShouldContain("number");
        await (await app.Rest().PutAsync("/api/v1/users/t-3", Http.Json("""{"attributes":{"bad":{"nested":1}}}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "attributes.bad");
        await (await app.Rest().PutAsync("/api/v1/users/t-3", Http.Json("""{"email":"not-an-email"}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "email");
    }

    [Fact]
    public async Task Deleting_a_user_removes_profile_devices_and_events()
    {
        var app = await host.NewAppAsync();
        var dev = await RegisterAsync(app);
        await app.Sdk().PostOk("/sdk/v1/identify", $$$"""{"installationId":"{{{dev}}}","externalId":"gone","email":"gone@example.com"}""");
        await app.Sdk().PostOk("/sdk/v1/events", $$$"""{"installationId":"{{{dev}}}","events":[{"messageId":"d-1","name":"x","timestamp":"2026-11-25T10:00:00Z"}]}""");
        (await app.Rest().DeleteAsync("/api/v1/users/gone", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await (await app.Rest().GetAsync("/api/v1/users/gone", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
        await (await app.Rest().GetAsync($"/api/v1/devices/{dev}", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
        await (await app.Rest().DeleteAsync("/api/v1/users/gone", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);

        await using var conn = await host.Services.GetRequiredService<Herald.Server.Storage.Db>().OpenAsync(Ct);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = $"SELECT count(*) FROM events WHERE app_id = {app.Id}";
        Convert.ToInt64(await cmd.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture).ShouldBe(0);
        cmd.CommandText = $"SELECT count(*) FROM users WHERE app_id = {app.Id} AND (email IS NOT NULL OR external_id IS NOT NULL)";
        Convert.ToInt64(await cmd.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture).ShouldBe(0);
    }

    [Fact]
    public async Task Csv_upload_keeps_turkish_text_exactly_and_reports_bad_rows()
    {
        var app = await host.NewAppAsync();
        var csv = "external_id,email,first_name,age:number,vip:boolean,joined:date,tags:list\n" +
                  "c-1,sukru@example.com,Şükrü Çağlar İğdır,44,true,2020-01-15,a|b\n" +
                  "c-2,bad-email,Ayşe,x,false,,\n" +
                  "\"c-3\",c3@example.com,\"Gül, \"\"Öztürk\"\"\",31,no,2021-02-03,\n" +
                  ",nobody@example.com,Nobody,1,true,,\n";
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        using var res = await app.Rest().PostAsync("/api/v1/users/import", content, Ct);
        var body = await res.Content.ReadAsStringAsync(Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.OK, body);
        var report = JsonDocument.Parse(body).RootElement;
        report.GetProperty("accepted").GetInt32().ShouldBe(2);
        var rej = report.GetProperty("rejected").EnumerateArray().ToList();
        rej.Select(r => r.GetProperty("line").GetInt32()).ShouldBe([3, 5]);

        var u = await app.Rest().GetJson("/api/v1/users/c-1");
        u.GetProperty("attributes").GetProperty("first_name").GetString().ShouldBe("Şükrü Çağlar İğdır");
        u.GetProperty("attributes").GetProperty("age").GetDouble().ShouldBe(44);
        u.GetProperty("attributes").GetProperty("vip").GetBoolean().ShouldBeTrue();
        var u3 = await app.Rest().GetJson("/api/v1/users/c-3");
        u3.GetProperty("attributes").GetProperty("first_name").GetString().ShouldBe("Gül, \"Öztürk\"");
    }

    [Fact]
    public async Task A_csv_in_windows_1254_is_refused_with_the_first_bad_line()
    {
        var app = await host.NewAppAsync();
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var text = "external_id,first_name\nw-1,Ali\nw-2,Şükrü\n";
        foreach (var codepage in new[] { 1254, 28591 })
        {
            using var content = new ByteArrayContent(Encoding.GetEncoding(codepage, EncoderFallback.ReplacementFallback, DecoderFallback.ReplacementFallback).GetBytes(text));
            content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
            var p = await (await app.Rest().PostAsync("/api/v1/users/import", content, Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "line 3");
            p.GetProperty("detail").GetString()!.ShouldContain("UTF-8");
        }
        await (await app.Rest().GetAsync("/api/v1/users/w-1", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class IngestTestsSqlite(SqliteHost host) : IngestTests(host);

[Collection(PostgresCollection.Name)]
public sealed class IngestTestsPostgres(PostgresHost host) : IngestTests(host);
