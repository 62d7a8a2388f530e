using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Herald.Server.Automation;
using Herald.Server.Storage;
using Herald.Sim.Providers;

namespace Herald.Tests;

/// <summary>Geofences (R-GEO-1): the REST API, the nearest fences a device monitors, what devices report, segments and triggers on it.</summary>
public abstract class GeofenceTests(HeraldHost host) : AutomatedCampaignTests(host)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    // Kadıköy, Istanbul: a ferry pier, a market street and a park.
    private const double Lat = 40.9903, Lon = 29.0230;

    private static async Task<long> GroupAsync(TestApp app, string name = "Stores") =>
        (await app.Rest().PostCreated("/api/v1/geofences/groups", $$$"""{"name":"{{{name}}}"}""")).GetProperty("id").GetInt64();

    private static async Task<long> CircleAsync(TestApp app, long group, string name, double lat, double lon, double radius, bool active = true) =>
        (await app.Rest().PostCreated("/api/v1/geofences", string.Create(Inv,
            $$$"""{"name":"{{{name}}}","groupId":{{{group}}},"active":{{{(active ? "true" : "false")}}},"circle":{"latitude":{{{lat}}},"longitude":{{{lon}}},"radius":{{{radius}}}}}""")))
        .GetProperty("id").GetInt64();

    private static async Task<string> DeviceAsync(TestApp app, string platform, string? token = null, string? user = null)
    {
        var push = token is null ? "" : $$$""","pushToken":"{{{token}}}","pushEnabled":true""";
        var id = (await app.Sdk().PostOk("/sdk/v1/devices", $$$"""{"platform":"{{{platform}}}"{{{push}}}}""")).GetProperty("installationId").GetString()!;
        if (user is not null) await app.Sdk().PostOk("/sdk/v1/identify", $$$"""{"installationId":"{{{id}}}","externalId":"{{{user}}}"}""");
        return id;
    }

    private async Task ReportAsync(TestApp app, string installation, string name, string attributes, DateTimeOffset? at = null)
    {
        await app.Sdk().PostOk("/sdk/v1/events",
            $$$"""{"installationId":"{{{installation}}}","events":[{"messageId":"{{{Guid.NewGuid()}}}","name":"{{{name}}}","timestamp":"{{{(at ?? Host.Clock.GetUtcNow()):O}}}","attributes":{{{attributes}}}}]}""");
        await Host.Services.GetRequiredService<Herald.Server.Ingest.ObserverPump>().CaughtUpAsync(Ct);
    }

    private static async Task<long> SizeAsync(TestApp app, string rules) =>
        (await app.Rest().PostOk("/api/v1/segments/preview", $$$"""{"rules":{{{rules}}}}""")).GetProperty("size").GetInt64();

    [Fact]
    public async Task Groups_and_fences_of_each_shape_are_created_listed_changed_and_deleted()
    {
        var app = await Host.NewAppAsync();
        var rest = app.Rest();
        var stores = await GroupAsync(app);
        var parks = await GroupAsync(app, "Parks");
        var pier = await CircleAsync(app, stores, "Pier", Lat, Lon, 150);
        var street = (await rest.PostCreated("/api/v1/geofences", $$$"""
            {"name":"Market street","groupId":{{{stores}}},"rectangle":{"southWest":{"latitude":40.9890,"longitude":29.0260},"northEast":{"latitude":40.9915,"longitude":29.0300} } }
            """)).GetProperty("id").GetInt64();
        var park = await rest.PostCreated("/api/v1/geofences", $$$"""
            {"name":"Yoğurtçu park","groupId":{{{parks}}},"polygon":[{"latitude":40.9830,"longitude":29.0330},{"latitude":40.9850,"longitude":29.0380},{"latitude":40.9820,"longitude":29.0400},{"latitude":40.9805,"longitude":29.0350}]}
            """);
        park.GetProperty("shape").GetString().ShouldBe("polygon");
        // The circle a phone monitors covers every vertex.
        var monitor = park.GetProperty("monitor");
        monitor.GetProperty("radius").GetDouble().ShouldBeInRange(200, 500);

        var all = await rest.GetJson("/api/v1/geofences");
        all.EnumerateArray().Select(f => f.GetProperty("shape").GetString()).Order().ShouldBe(["circle", "polygon", "rectangle"]);
        (await rest.GetJson($"/api/v1/geofences?groupId={stores}")).GetArrayLength().ShouldBe(2);
        var groups = await rest.GetJson("/api/v1/geofences/groups");
        groups.EnumerateArray().Single(g => g.GetProperty("id").GetInt64() == stores).GetProperty("fences").GetInt32().ShouldBe(2);

        using (var put = await rest.PutAsJsonAsync($"/api/v1/geofences/{pier}", new { name = "Pier (north)", groupId = parks, active = false, circle = new { latitude = Lat, longitude = Lon, radius = 300 } }, Ct))
        {
            var v = await put.Content.ReadFromJsonAsync<JsonElement>(Ct);
            put.StatusCode.ShouldBe(HttpStatusCode.OK, v.ToString());
            v.GetProperty("group").GetString().ShouldBe("Parks");
            v.GetProperty("active").GetBoolean().ShouldBeFalse();
            v.GetProperty("circle").GetProperty("radius").GetDouble().ShouldBe(300);
        }
        using (var rename = await rest.PatchAsJsonAsync($"/api/v1/geofences/groups/{stores}", new { name = "Parks" }, Ct))
            await rename.ShouldBeProblem(HttpStatusCode.Conflict, "name");

        // Another app's key reaches none of it.
        var other = await Host.NewAppAsync();
        await (await other.Rest().GetAsync($"/api/v1/geofences/{street}", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
        await (await other.Rest().DeleteAsync($"/api/v1/geofences/groups/{stores}", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
        await (await other.Rest().PostAsync("/api/v1/geofences", Http.Json($$$"""{"name":"x","groupId":{{{stores}}},"circle":{"latitude":1,"longitude":1,"radius":100}}"""), Ct))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "groupId");

        (await rest.DeleteAsync($"/api/v1/geofences/groups/{parks}", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await rest.GetJson("/api/v1/geofences")).EnumerateArray().Select(f => f.GetProperty("id").GetInt64()).ShouldBe([street]);
        (await rest.DeleteAsync($"/api/v1/geofences/{street}", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await (await rest.DeleteAsync($"/api/v1/geofences/{street}", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("""{"name":"x","groupId":G}""", "circle")]
    [InlineData("""{"name":"x","groupId":G,"circle":{"latitude":1,"longitude":1,"radius":100},"polygon":[]}""", "polygon")]
    [InlineData("""{"name":"x","groupId":G,"circle":{"latitude":91,"longitude":1,"radius":100}}""", "circle.latitude")]
    [InlineData("""{"name":"x","groupId":G,"circle":{"latitude":1,"longitude":-180.5,"radius":100}}""", "circle.longitude")]
    [InlineData("""{"name":"x","groupId":G,"circle":{"latitude":1,"longitude":1,"radius":5}}""", "circle.radius")]
    [InlineData("""{"name":"x","groupId":G,"circle":{"latitude":1,"longitude":1,"radius":100001}}""", "circle.radius")]
    [InlineData("""{"name":"x","groupId":G,"circle":{"latitude":1,"longitude":1}}""", "circle.radius")]
    [InlineData("""{"name":"x","groupId":G,"rectangle":{"southWest":{"latitude":2,"longitude":1},"northEast":{"latitude":1,"longitude":2}}}""", "rectangle.southWest.latitude")]
    [InlineData("""{"name":"x","groupId":G,"rectangle":{"southWest":{"latitude":1,"longitude":1}}}""", "rectangle.northEast.latitude")]
    [InlineData("""{"name":"x","groupId":G,"rectangle":{"southWest":{"latitude":-10,"longitude":1},"northEast":{"latitude":10,"longitude":2}}}""", "rectangle")]
    [InlineData("""{"name":"x","groupId":G,"polygon":[{"latitude":1,"longitude":1},{"latitude":1.001,"longitude":1.001}]}""", "polygon")]
    [InlineData("""{"name":"x","groupId":G,"polygon":[{"latitude":1,"longitude":1},{"latitude":1.001,"longitude":1.001},{"latitude":1.002,"longitude":1.002}]}""", "polygon")]
    [InlineData("""{"name":"x","groupId":G,"polygon":[{"latitude":0,"longitude":0},{"latitude":0.01,"longitude":0.01},{"latitude":0,"longitude":0.01},{"latitude":0.01,"longitude":0}]}""", "polygon[2]")]
    [InlineData("""{"name":"x","groupId":G,"polygon":[{"latitude":0,"longitude":0},{"latitude":0.01},{"latitude":0,"longitude":0.01}]}""", "polygon[1].longitude")]
    [InlineData("""{"name":"","groupId":G,"circle":{"latitude":1,"longitude":1,"radius":100}}""", "name")]
    [InlineData("""{"name":"x","circle":{"latitude":1,"longitude":1,"radius":100}}""", "groupId")]
    [InlineData("""{"name":"x","groupId":999999999,"circle":{"latitude":1,"longitude":1,"radius":100}}""", "groupId")]
    public async Task Bad_fences_are_refused_naming_the_field(string json, string field)
    {
        var app = await Host.NewAppAsync();
        var group = await GroupAsync(app);
        await (await app.Rest().PostAsync("/api/v1/geofences", Http.Json(json.Replace("\"groupId\":G", $"\"groupId\":{group}", StringComparison.Ordinal)), Ct))
            .ShouldBeProblem(HttpStatusCode.BadRequest, field);
        (await app.Rest().GetJson("/api/v1/geofences")).GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task A_polygon_of_101_points_and_a_name_of_201_characters_are_refused_with_their_limits()
    {
        var app = await Host.NewAppAsync();
        var group = await GroupAsync(app);
        var ring = Enumerable.Range(0, 101).Select(i => new { latitude = Lat + 0.01 * Math.Sin(i * 2 * Math.PI / 101), longitude = Lon + 0.01 * Math.Cos(i * 2 * Math.PI / 101) }).ToArray();
        using var res = await app.Rest().PostAsJsonAsync("/api/v1/geofences", new { name = "Ring", groupId = group, polygon = ring }, Ct);
        var problem = await res.ShouldBeProblem(HttpStatusCode.BadRequest, "polygon");
        problem.GetProperty("limit").GetInt32().ShouldBe(100);
        using var named = await app.Rest().PostAsJsonAsync("/api/v1/geofences", new { name = new string('x', 201), groupId = group, circle = new { latitude = Lat, longitude = Lon, radius = 100 } }, Ct);
        (await named.ShouldBeProblem(HttpStatusCode.BadRequest, "name")).GetProperty("limit").GetInt32().ShouldBe(200);
    }

    [Fact]
    public async Task An_iphone_gets_its_19_nearest_fences_and_a_refresh_circle_that_stops_short_of_the_next()
    {
        var app = await Host.NewAppAsync();
        var group = await GroupAsync(app);
        // 30 fences of 100 m, their centres 500 m apart going north from the position, created out of order.
        var ids = new long[30];
        foreach (var i in Enumerable.Range(0, 30).OrderBy(i => (i * 7) % 30))
            ids[i] = await CircleAsync(app, group, $"Store {i}", Lat + i * 500 / 111_195.0, Lon, 100);
        var hidden = await CircleAsync(app, group, "Closed store", Lat, Lon + 0.0001, 100, active: false);

        var iphone = await DeviceAsync(app, "ios");
        var near = await app.Sdk().PostOk("/sdk/v1/geofences/nearby", string.Create(Inv, $$$"""{"installationId":"{{{iphone}}}","latitude":{{{Lat}}},"longitude":{{{Lon}}}}"""));
        near.GetProperty("limit").GetInt32().ShouldBe(20);
        var fences = near.GetProperty("fences").EnumerateArray().ToList();
        fences.Select(f => f.GetProperty("id").GetInt64()).ShouldBe(ids.Take(19));
        fences.ShouldAllBe(f => f.GetProperty("exact").GetBoolean());
        near.GetProperty("inside").EnumerateArray().Select(x => x.GetInt64()).ShouldBe([ids[0]]);
        // The 20th fence's edge is 19 × 500 − 100 = 9,400 m away: the device asks again before it can get there.
        var refresh = near.GetProperty("refresh").GetProperty("radius").GetDouble();
        refresh.ShouldBeInRange(9_300, 9_400);
        fences.Max(f => f.GetProperty("distance").GetDouble()).ShouldBeLessThan(refresh);
        fences.ShouldNotContain(f => f.GetProperty("id").GetInt64() == hidden);

        // An Android phone watches 100 regions: it gets all 30 and needs no refresh circle.
        var android = await DeviceAsync(app, "android");
        var all = await app.Sdk().PostOk("/sdk/v1/geofences/nearby", string.Create(Inv, $$$"""{"installationId":"{{{android}}}","latitude":{{{Lat}}},"longitude":{{{Lon}}}}"""));
        all.GetProperty("fences").GetArrayLength().ShouldBe(30);
        all.GetProperty("refresh").ValueKind.ShouldBe(JsonValueKind.Null);

        // The position is the device's location.
        var device = await app.Rest().GetJson($"/api/v1/devices/{iphone}");
        device.GetProperty("latitude").GetDouble().ShouldBe(Lat);
        device.GetProperty("longitude").GetDouble().ShouldBe(Lon);

        using (var bad = await app.Sdk().PostAsync("/sdk/v1/geofences/nearby", Http.Json($$$"""{"installationId":"{{{iphone}}}","latitude":95,"longitude":29}"""), Ct))
            await bad.ShouldBeProblem(HttpStatusCode.BadRequest, "position.latitude");
        var other = await Host.NewAppAsync();
        using (var foreign = await other.Sdk().PostAsync("/sdk/v1/geofences/nearby", Http.Json(string.Create(Inv, $$$"""{"installationId":"{{{iphone}}}","latitude":{{{Lat}}},"longitude":{{{Lon}}}}""")), Ct))
            await foreign.ShouldBeProblem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_polygon_fence_is_monitored_by_its_circle_but_inside_only_within_its_edges()
    {
        var app = await Host.NewAppAsync();
        var group = await GroupAsync(app);
        // An L-shaped block: the notch at its north-east is in the monitored circle, not in the fence.
        var l = await app.Rest().PostCreated("/api/v1/geofences", $$$"""
            {"name":"L block","groupId":{{{group}}},"polygon":[{"latitude":41.000,"longitude":29.000},{"latitude":41.000,"longitude":29.010},{"latitude":41.005,"longitude":29.010},
              {"latitude":41.005,"longitude":29.005},{"latitude":41.010,"longitude":29.005},{"latitude":41.010,"longitude":29.000}]}
            """);
        var id = l.GetProperty("id").GetInt64();
        var phone = await DeviceAsync(app, "android");
        async Task<JsonElement> AtAsync(double lat, double lon) =>
            await app.Sdk().PostOk("/sdk/v1/geofences/nearby", string.Create(Inv, $$$"""{"installationId":"{{{phone}}}","latitude":{{{lat}}},"longitude":{{{lon}}}}"""));

        var notch = await AtAsync(41.008, 29.008);
        var fence = notch.GetProperty("fences")[0];
        fence.GetProperty("exact").GetBoolean().ShouldBeFalse();
        fence.GetProperty("distance").GetDouble().ShouldBe(0); // inside the monitored circle
        fence.GetProperty("polygon").GetArrayLength().ShouldBe(6);
        notch.GetProperty("inside").GetArrayLength().ShouldBe(0);
        (await AtAsync(41.008, 29.002)).GetProperty("inside").EnumerateArray().Single().GetInt64().ShouldBe(id);
        (await AtAsync(41.002, 29.008)).GetProperty("inside").EnumerateArray().Single().GetInt64().ShouldBe(id);
    }

    [Fact]
    public async Task Enter_and_exit_reports_put_devices_in_fences_for_segments_and_the_newest_report_wins()
    {
        var app = await Host.NewAppAsync();
        var stores = await GroupAsync(app);
        var pier = await CircleAsync(app, stores, "Pier", Lat, Lon, 150);
        var mall = await CircleAsync(app, stores, "Mall", 41.0766, 29.0136, 300);
        var a = await DeviceAsync(app, "android");
        var b = await DeviceAsync(app, "ios");
        var c = await DeviceAsync(app, "ios");

        await ReportAsync(app, a, "geofence_enter", $$$"""{"geofence_id":{{{pier}}}}""");
        await ReportAsync(app, b, "geofence_enter", $$$"""{"geofence_id":"{{{pier}}}"}""");
        await ReportAsync(app, c, "geofence_enter", $$$"""{"geofence_id":{{{mall}}}}""");
        await ReportAsync(app, c, "geofence_enter", """{"geofence_id":987654321}"""); // no such fence: stored, changes nothing
        (await SizeAsync(app, $$$"""{"geofence":{"id":{{{pier}}}}}""")).ShouldBe(2);
        (await SizeAsync(app, $$$"""{"geofence":{"group":{{{stores}}}}}""")).ShouldBe(3);
        (await SizeAsync(app, $$$"""{"not":{"geofence":{"id":{{{pier}}} } } }""")).ShouldBe(1);
        (await app.Rest().GetJson($"/api/v1/geofences/{pier}")).GetProperty("devicesInside").GetInt64().ShouldBe(2);

        Host.Clock.Advance(TimeSpan.FromMinutes(10));
        await ReportAsync(app, a, "geofence_exit", $$$"""{"geofence_id":{{{pier}}}}""");
        // An offline report from before the exit arrives late: it does not put the device back inside.
        await ReportAsync(app, a, "geofence_enter", $$$"""{"geofence_id":{{{pier}}}}""", Host.Clock.GetUtcNow().AddMinutes(-5));
        (await SizeAsync(app, $$$"""{"geofence":{"id":{{{pier}}}}}""")).ShouldBe(1);

        // Segment rules naming fences are checked when saved.
        using (var res = await app.Rest().PostAsync("/api/v1/segments/preview", Http.Json("""{"rules":{"geofence":{"id":987654321}}}"""), Ct))
            await res.ShouldBeProblem(HttpStatusCode.BadRequest, "rules.geofence.id");
        var other = await Host.NewAppAsync();
        using (var res = await other.Rest().PostAsync("/api/v1/segments/preview", Http.Json($$$"""{"rules":{"geofence":{"group":{{{stores}}} } } }"""), Ct))
            await res.ShouldBeProblem(HttpStatusCode.BadRequest, "rules.geofence.group");

        // Deleting the fence forgets who was in it.
        (await app.Rest().DeleteAsync($"/api/v1/geofences/{mall}", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await SizeAsync(app, $$$"""{"geofence":{"group":{{{stores}}}}}""")).ShouldBe(1);
    }

    [Fact]
    public async Task A_real_time_segment_of_a_fence_records_devices_entering_and_leaving_as_reports_arrive()
    {
        var app = await Host.NewAppAsync();
        var group = await GroupAsync(app);
        var pier = await CircleAsync(app, group, "Pier", Lat, Lon, 150);
        var phone = await DeviceAsync(app, "android");
        var segment = (await app.Rest().PostCreated("/api/v1/segments", $$$"""{"name":"At the pier","realtime":true,"rules":{"geofence":{"id":{{{pier}}} } } }"""))
            .GetProperty("id").GetInt64();
        await ReportAsync(app, phone, "geofence_enter", $$$"""{"geofence_id":{{{pier}}}}""");
        Host.Clock.Advance(TimeSpan.FromMinutes(5));
        await ReportAsync(app, phone, "geofence_exit", $$$"""{"geofence_id":{{{pier}}}}""");
        var changes = (await app.Rest().GetJson($"/api/v1/segments/{segment}/changes")).EnumerateArray().ToList();
        changes.Select(c => c.GetProperty("entered").GetBoolean()).ShouldBe([true, false]);
    }

    [Fact]
    public async Task Location_updates_place_devices_for_near_rules_and_deleting_the_user_removes_their_fences()
    {
        var app = await Host.NewAppAsync();
        var group = await GroupAsync(app);
        var pier = await CircleAsync(app, group, "Pier", Lat, Lon, 150);
        var here = await DeviceAsync(app, "android", user: "kadikoy-user");
        var there = await DeviceAsync(app, "android");
        await ReportAsync(app, here, "location_update", string.Create(Inv, $$$"""{"latitude":{{{Lat + 0.001}}},"longitude":{{{Lon}}}}"""));
        await ReportAsync(app, there, "location_update", """{"latitude":41.0766,"longitude":29.0136}""");  // 10 km north
        var near = string.Create(Inv, $$$"""{"near":{"latitude":{{{Lat}}},"longitude":{{{Lon}}},"radius":1000}}""");
        (await SizeAsync(app, near)).ShouldBe(1);
        (await SizeAsync(app, string.Create(Inv, $$$"""{"near":{"latitude":{{{Lat}}},"longitude":{{{Lon}}},"radius":20000}}"""))).ShouldBe(2);
        using (var res = await app.Rest().PostAsync("/api/v1/segments/preview", Http.Json($$$"""{"rules":{"near":{"latitude":{{{Lat.ToString(Inv)}}},"longitude":200,"radius":10} } }"""), Ct))
            await res.ShouldBeProblem(HttpStatusCode.BadRequest, "rules.near.longitude");

        await ReportAsync(app, here, "geofence_enter", $$$"""{"geofence_id":{{{pier}}}}""");
        (await SizeAsync(app, $$$"""{"geofence":{"id":{{{pier}}}}}""")).ShouldBe(1);
        (await app.Rest().DeleteAsync("/api/v1/users/kadikoy-user", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await using var conn = await Host.Services.GetRequiredService<Db>().OpenAsync(Ct);
        (await conn.ExecuteScalarAsync<long>("SELECT count(*) FROM device_geofences WHERE app_id = @id", new { id = app.Id })).ShouldBe(0);
        (await SizeAsync(app, near)).ShouldBe(0);
    }

    [Fact]
    public async Task Entering_a_fence_triggers_its_campaigns_every_time_or_once_and_other_fences_do_not()
    {
        var app = await Host.NewAppAsync();
        (await app.Rest().PutAsJsonAsync("/api/v1/app/credentials/fcm", P.FcmCredentials, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var group = await GroupAsync(app);
        var pier = await CircleAsync(app, group, "Pier", Lat, Lon, 150);
        var mall = await CircleAsync(app, group, "Mall", 41.0766, 29.0136, 300);
        var token = $"fcm-{Guid.NewGuid():N}";
        var phone = await DeviceAsync(app, "android", token, "commuter");

        async Task<long> ActivateAsync(string title, string reentry)
        {
            var created = await app.Rest().PostCreated("/api/v1/campaigns", $$$"""
                {"name":"{{{title}}}","channel":"push","content":{"title":"{{{title}}}","body":"Kahve 10 TL"},"audience":{},
                 "trigger":{"type":"event","event":"geofence_enter","reentry":"{{{reentry}}}","filters":[{"attribute":"geofence_id","op":"eq","value":{{{pier}}}}]}}
                """);
            var id = created.GetProperty("id").GetInt64();
            await app.Rest().PostOk($"/api/v1/campaigns/{id}/activate", "{}");
            Activated.Add(app, id);
            return id;
        }
        var every = await ActivateAsync("Welcome to the pier", "every_time");
        var once = await ActivateAsync("First time at the pier", "once");
        int Pushes(string title) => P.Fcm.Received.Count(r => r.Token == token && r.Message.GetProperty("notification").GetProperty("title").GetString() == title);

        async Task VisitAsync(long fence, int expectEvery, int expectOnce)
        {
            await ReportAsync(app, phone, "geofence_enter", $$$"""{"geofence_id":{{{fence}}}}""");
            await Host.Services.GetRequiredService<AutomationWorker>().PassAsync(Ct);
            await UntilAsync(() => Pushes("Welcome to the pier") >= expectEvery && Pushes("First time at the pier") >= expectOnce);
            Host.Clock.Advance(TimeSpan.FromMinutes(30));
            await ReportAsync(app, phone, "geofence_exit", $$$"""{"geofence_id":{{{fence}}}}""");
        }
        await VisitAsync(pier, 1, 1);
        await VisitAsync(mall, 1, 1);
        await VisitAsync(pier, 2, 1);
        await Host.Services.GetRequiredService<AutomationWorker>().PassAsync(Ct);
        Pushes("Welcome to the pier").ShouldBe(2);
        Pushes("First time at the pier").ShouldBe(1);
        var view = await app.Rest().GetJson($"/api/v1/campaigns/{once}/automation");
        view.GetProperty("triggers").GetProperty("skipped").GetInt32().ShouldBe(1);
        (await app.Rest().GetJson($"/api/v1/campaigns/{every}/automation")).GetProperty("triggers").GetProperty("fired").GetInt32().ShouldBe(2);
    }

    [Fact]
    public async Task A_campaign_for_a_geofence_goes_to_the_devices_inside_it_and_names_an_unknown_fence()
    {
        var app = await Host.NewAppAsync();
        (await app.Rest().PutAsJsonAsync("/api/v1/app/credentials/fcm", P.FcmCredentials, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var group = await GroupAsync(app);
        var pier = await CircleAsync(app, group, "Pier", Lat, Lon, 150);
        var mall = await CircleAsync(app, group, "Mall", 41.0766, 29.0136, 300);
        var tokens = Enumerable.Range(0, 4).Select(_ => $"fcm-{Guid.NewGuid():N}").ToArray();
        var phones = new List<string>();
        foreach (var t in tokens) phones.Add(await DeviceAsync(app, "android", t));
        await ReportAsync(app, phones[0], "geofence_enter", $$$"""{"geofence_id":{{{pier}}}}""");
        await ReportAsync(app, phones[1], "geofence_enter", $$$"""{"geofence_id":{{{pier}}}}""");
        await ReportAsync(app, phones[1], "geofence_exit", $$$"""{"geofence_id":{{{pier}}}}""", Host.Clock.GetUtcNow().AddSeconds(1));
        await ReportAsync(app, phones[2], "geofence_enter", $$$"""{"geofence_id":{{{mall}}}}""");

        var id = await app.CreateCampaignAsync(new { name = "Ferry soon", channel = "push", content = new { title = "Ferry in 5 minutes", body = "Pier 2" }, audience = new { geofences = new[] { pier } } });
        (await app.Rest().PostOk($"/api/v1/campaigns/{id}/audience", "{}")).GetProperty("recipients").GetInt32().ShouldBe(1);
        await app.Rest().PostOk($"/api/v1/campaigns/{id}/send", "{}");
        await app.ReportWhenAsync(id, r => r.GetProperty("sent").GetInt32() == 1);
        await CampaignPolling.UntilAsync(() => P.Fcm.Received.Count(r => tokens.Contains(r.Token)), n => n >= 1);
        P.Fcm.Received.Where(r => tokens.Contains(r.Token)).Select(r => r.Token).ShouldBe([tokens[0]]);

        using var res = await app.Rest().PostAsJsonAsync("/api/v1/campaigns", new { name = "x", channel = "push", content = new { title = "t", body = "b" }, audience = new { geofences = new[] { mall, 987654321 } } }, Ct);
        await res.ShouldBeProblem(HttpStatusCode.BadRequest, "audience.geofences[1]");
    }

    [Fact]
    public async Task Reentry_every_time_is_refused_for_triggers_that_would_fire_on_every_check()
    {
        var app = await Host.NewAppAsync();
        using var res = await app.Rest().PostAsync("/api/v1/campaigns", Http.Json("""
            {"name":"x","channel":"push","content":{"title":"t","body":"b"},"audience":{},"trigger":{"type":"inactivity","inactiveDays":3,"reentry":"every_time"}}
            """), Ct);
        await res.ShouldBeProblem(HttpStatusCode.BadRequest, "trigger.reentry");
    }

    /// <summary>Waits (bounded, on the dispatcher's real work) until the condition holds.</summary>
    private async Task UntilAsync(Func<bool> done)
    {
        for (var i = 0; i < 600 && !done(); i++)
        {
            Host.Services.GetRequiredService<Herald.Server.Campaigns.DispatchWorker>().Wake();
            await Task.Delay(50, Ct);
        }
        done().ShouldBeTrue("the dispatcher did not send the expected pushes within 30 s");
    }
}

[Collection(SqliteCollection.Name)]
public sealed class GeofenceTestsSqlite(SqliteHost host) : GeofenceTests(host);

[Collection(PostgresCollection.Name)]
public sealed class GeofenceTestsPostgres(PostgresHost host) : GeofenceTests(host);
