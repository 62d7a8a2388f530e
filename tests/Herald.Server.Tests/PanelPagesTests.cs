using System.Net;
using System.Net.Http.Json;
using Herald.Server.Accounts;
using Herald.Server.Apps;

namespace Herald.Tests;

/// <summary>The panel pages after segments: each renders for a role allowed to read it and refuses a viewer's changes with 403.</summary>
public abstract class PanelPagesTests(HeraldHost host)
{
    private async Task<IReadOnlyList<AuditEntry>> AuditAsync() => await host.Services.GetRequiredService<AuditLog>().ReadAsync(null, 1000, CancellationToken.None);

    private async Task<(TestApp App, PanelUser Owner, PanelClient Viewer, PanelClient Admin)> SetUpAsync()
    {
        var app = await host.NewAppAsync();
        var owner = await PanelAccounts.OwnerAsync(host);
        var viewer = await PanelAccounts.MemberAsync(host, app.Id, Roles.Viewer, owner);
        var admin = await PanelAccounts.MemberAsync(host, app.Id, Roles.Admin, owner);
        var v = PanelClient.For(host);
        await v.LoginAsync(viewer.Email, PanelAccounts.Password);
        var a = PanelClient.For(host);
        await a.LoginAsync(admin.Email, PanelAccounts.Password);
        return (app, owner, v, a);
    }

    [Fact]
    public async Task Settings_save_limits_and_credentials_show_only_fingerprints_and_keys_once()
    {
        var (app, _, v, a) = await SetUpAsync();
        var url = $"/panel/apps/{app.Id}/settings";
        var read = await v.GetAsync(url);
        read.Status.ShouldBe(HttpStatusCode.OK);
        read.Body.ShouldContain("can read these settings");
        (await v.PostFormAsync(url, new Dictionary<string, string> { ["name"] = "Hijacked" }, url + "?handler=general")).Status.ShouldBe(HttpStatusCode.Forbidden);

        var saved = await a.PostFormAsync(url, new Dictionary<string, string>
        {
            ["name"] = "Renamed shop", ["category"] = "ecommerce", ["timezone"] = "Europe/Istanbul",
            ["maxPerDay"] = "3", ["quietStart"] = "22:00", ["quietEnd"] = "08:00", ["emailPerSecond"] = "2.5",
        }, url + "?handler=general");
        saved.Status.ShouldBe(HttpStatusCode.OK);
        saved.Body.ShouldContain("Settings saved.");
        var view = (await host.Services.GetRequiredService<AppService>().GetAsync(app.Id, CancellationToken.None))!;
        view.Name.ShouldBe("Renamed shop");
        view.Limits.MaxPushesPerUserPerDay.ShouldBe(3);
        view.Limits.EmailMaxPerSecond.ShouldBe(2.5);

        var bad = await a.PostFormAsync(url, new Dictionary<string, string> { ["name"] = "x", ["timezone"] = "Mars/Olympus" }, url + "?handler=general");
        bad.Status.ShouldBe(HttpStatusCode.BadRequest);
        bad.Body.ShouldContain("class=\"flash err\"");

        var cred = await a.PostFormAsync(url, new Dictionary<string, string>
        {
            ["channel"] = "sms", ["url"] = "https://sms.example/send", ["from"] = "Herald", ["authorization"] = "Bearer very-secret-token",
        }, url + "?handler=credentials");
        cred.Status.ShouldBe(HttpStatusCode.OK);
        cred.Body.ShouldContain("sha256:");
        cred.Body.ShouldNotContain("very-secret-token");
        (await a.GetAsync(url)).Body.ShouldNotContain("very-secret-token");

        var created = await a.PostFormAsync(url, new Dictionary<string, string> { ["kind"] = "rest", ["keyName"] = "Backend" }, url + "?handler=createKey");
        created.Body.ShouldContain("hrk_");
        var key = (await host.Services.GetRequiredService<AppService>().ListKeysAsync(app.Id, CancellationToken.None)).Single(k => k.Name == "Backend");
        (await a.GetAsync(url)).Body.ShouldNotContain("hrk_" + created.Body.Split("hrk_")[1].Split('<')[0]);
        (await v.PostFormAsync(url, new Dictionary<string, string> { ["keyId"] = key.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, url + "?handler=revokeKey")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await a.PostFormAsync(url, new Dictionary<string, string> { ["keyId"] = key.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, url + "?handler=revokeKey")).Body.ShouldContain("revoked");

        var audit = await AuditAsync();
        foreach (var action in new[] { "app.update", "app.credentials", "key.create", "key.revoke" })
            audit.ShouldContain(e => e.AppId == app.Id && e.Action == action);
    }

    [Fact]
    public async Task Users_look_up_by_external_id_installation_id_and_email()
    {
        var (app, _, v, _) = await SetUpAsync();
        var device = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"android","pushToken":"t1","pushEnabled":true}""")).GetProperty("installationId").GetString()!;
        await app.Sdk().PostOk("/sdk/v1/identify", $$$"""{"installationId":"{{{device}}}","externalId":"panel-user-1","email":"Panel.User@example.com","attributes":{"city":"Izmir"}}""");
        await app.Sdk().PostOk("/sdk/v1/events", $$"""{"installationId":"{{device}}","events":[{"name":"Opened Shop","messageId":"pe-1","timestamp":"2026-11-25T11:00:00Z"}]}""");

        var url = $"/panel/apps/{app.Id}/users";
        (await v.GetAsync(url)).Body.ShouldContain("Find one user or device.");
        foreach (var q in new[] { "panel-user-1", device, "panel.user@EXAMPLE.com" })
        {
            var page = await v.GetAsync($"{url}?q={Uri.EscapeDataString(q)}");
            page.Status.ShouldBe(HttpStatusCode.OK);
            page.Body.ShouldContain("Izmir");
            page.Body.ShouldContain(device);
            page.Body.ShouldContain("Opened Shop");
        }
        (await v.GetAsync($"{url}?q=nobody")).Body.ShouldContain("No user or device matches");

        // Test push: marketers and above; the provider's answer is shown, and audited.
        (await app.Rest().PutAsJsonAsync("/api/v1/app/credentials/fcm", host.Providers.FcmCredentials, TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var form = new Dictionary<string, string> { ["q"] = device, ["installationId"] = device };
        (await v.PostFormAsync($"/panel/apps/{app.Id}/segments/edit", form, $"{url}?handler=testPush")).Status.ShouldBe(HttpStatusCode.Forbidden);
        var m = PanelClient.For(host);
        await m.LoginAsync((await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer)).Email, PanelAccounts.Password);
        (await m.GetAsync($"{url}?q={device}")).Body.ShouldContain("Test push");
        var tested = await m.PostFormAsync($"{url}?q={device}", form, $"{url}?handler=testPush");
        tested.Status.ShouldBe(HttpStatusCode.OK);
        tested.Body.ShouldContain("Test push sent to");
        (await AuditAsync()).ShouldContain(e => e.AppId == app.Id && e.Action == "test.push");
    }

    [Fact]
    public async Task Users_page_sends_a_test_email_and_a_test_sms_for_marketers()
    {
        var ct = TestContext.Current.CancellationToken;
        var (app, owner, v, _) = await SetUpAsync();
        await using var smtp = await Herald.Sim.Providers.Smtp.SmtpTestServer.StartAsync();
        (await app.Rest().PutAsJsonAsync("/api/v1/app/credentials/smtp", new { host = smtp.Host, port = smtp.Port, from = "shop@example.com", startTls = false }, ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await app.Rest().PutAsJsonAsync("/api/v1/app/credentials/sms", host.Providers.SmsCredentials, ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var phone = "+9053" + Random.Shared.Next(10_000_000, 99_999_999);
        (await app.Rest().PutAsJsonAsync("/api/v1/users/deniz", new { email = "deniz@example.com", phone }, ct)).EnsureSuccessStatusCode();
        var url = $"/panel/apps/{app.Id}/users";
        var form = new Dictionary<string, string> { ["q"] = "deniz", ["externalId"] = "deniz" };

        // Viewers see no buttons and may not post them.
        (await v.GetAsync($"{url}?q=deniz")).Body.ShouldNotContain("id=\"test-sends\"");
        (await v.PostFormAsync($"/panel/apps/{app.Id}/segments/edit", form, $"{url}?handler=testEmail")).Status.ShouldBe(HttpStatusCode.Forbidden);
        var m = PanelClient.For(host);
        await m.LoginAsync((await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer, owner)).Email, PanelAccounts.Password);
        var page = (await m.GetAsync($"{url}?q=deniz")).Body;
        page.ShouldContain("Test email");
        page.ShouldContain("Test SMS");

        var email = await m.PostFormAsync($"{url}?q=deniz", form, $"{url}?handler=testEmail");
        email.Body.ShouldContain("Test email sent to deniz");
        smtp.Messages().Single().RcptTos.ShouldBe(["deniz@example.com"]);
        var sms = await m.PostFormAsync($"{url}?q=deniz", form, $"{url}?handler=testSms");
        sms.Body.ShouldContain("Test SMS sent to deniz");
        host.Providers.Sms.Received.Single(s => s.To == phone).Text.ShouldBe("Test from Herald: it works.");
        var audit = await AuditAsync();
        audit.ShouldContain(e => e.AppId == app.Id && e.Action == "test.email" && e.Detail!.StartsWith("user deniz: Delivered", StringComparison.Ordinal));
        audit.ShouldContain(e => e.AppId == app.Id && e.Action == "test.sms");

        // A user who opted out: the refusal is shown, nothing is sent.
        (await app.Rest().PutAsJsonAsync("/api/v1/users/deniz", new { optIn = new { email = false } }, ct)).EnsureSuccessStatusCode();
        (await m.PostFormAsync($"{url}?q=deniz", form, $"{url}?handler=testEmail")).Body.ShouldContain("opted out of email");
        smtp.Messages().Count.ShouldBe(1);
    }

    [Fact]
    public async Task Geofences_page_maps_groups_and_fences_and_marketers_create_edit_and_delete_them()
    {
        var (app, owner, v, _) = await SetUpAsync();
        var url = $"/panel/apps/{app.Id}/geofences";
        (await v.GetAsync(url)).Body.ShouldContain("No groups yet.");
        // A viewer's page has no form; a crafted post (with a token from another page) is refused.
        (await v.PostFormAsync($"/panel/apps/{app.Id}/segments/edit", new Dictionary<string, string> { ["groupName"] = "Stores" }, $"{url}?handler=group")).Status.ShouldBe(HttpStatusCode.Forbidden);

        var m = PanelClient.For(host);
        await m.LoginAsync((await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer, owner)).Email, PanelAccounts.Password);
        System.Net.WebUtility.HtmlDecode((await m.PostFormAsync(url, new Dictionary<string, string> { ["groupName"] = "Stores" }, $"{url}?handler=group")).Body).ShouldContain("Group “Stores” created.");
        var group = (await app.Rest().GetJson("/api/v1/geofences/groups")).EnumerateArray().Single().GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);

        var circle = await m.PostFormAsync(url, new Dictionary<string, string>
        {
            ["name"] = "Pier", ["groupId"] = group, ["shape"] = "circle", ["active"] = "on", ["latitude"] = "40.9903", ["longitude"] = "29,0230", ["radius"] = "150",
        }, $"{url}?handler=save");
        circle.Location.ShouldBe(url);
        var polygon = await m.PostFormAsync(url, new Dictionary<string, string>
        {
            ["name"] = "Park", ["groupId"] = group, ["shape"] = "polygon", ["active"] = "on",
            ["points"] = "40.9830, 29.0330\n40.9850, 29.0380\n40.9820 29.0400\n40.9805;29.0350",
        }, $"{url}?handler=save");
        polygon.Location.ShouldBe(url);
        var fences = (await app.Rest().GetJson("/api/v1/geofences")).EnumerateArray().ToList();
        fences.Select(f => f.GetProperty("name").GetString()).Order().ShouldBe(["Park", "Pier"]);
        var pier = fences.Single(f => f.GetProperty("name").GetString() == "Pier");
        pier.GetProperty("circle").GetProperty("longitude").GetDouble().ShouldBe(29.023);
        fences.Single(f => f.GetProperty("name").GetString() == "Park").GetProperty("polygon").GetArrayLength().ShouldBe(4);

        // Everyone who can read the app sees the map, with each fence drawn and named.
        var page = System.Net.WebUtility.HtmlDecode((await v.GetAsync(url)).Body);
        page.ShouldContain("<svg id=\"geofence-map\"");
        System.Text.RegularExpressions.Regex.Matches(page, "<polygon points=").Count.ShouldBe(2);
        page.ShouldContain("150 m radius");
        page.ShouldNotContain("id=\"geofence-form\""); // a viewer gets no editor

        // The service's checks come back on the page naming the field; a polygon line that is not a point names its line.
        var crossing = await m.PostFormAsync(url, new Dictionary<string, string>
        {
            ["name"] = "Bow tie", ["groupId"] = group, ["shape"] = "polygon", ["points"] = "0, 0\n0.01, 0.01\n0, 0.01\n0.01, 0",
        }, $"{url}?handler=save");
        crossing.Status.ShouldBe(HttpStatusCode.OK);
        crossing.Body.ShouldContain("edges cross");
        (await m.PostFormAsync(url, new Dictionary<string, string>
        {
            ["name"] = "Typo", ["groupId"] = group, ["shape"] = "polygon", ["points"] = "0, 0\nnorth-east\n0, 0.01",
        }, $"{url}?handler=save")).Body.ShouldContain("polygon line 2");
        (await m.PostFormAsync(url, new Dictionary<string, string>
        {
            ["name"] = "Tiny", ["groupId"] = group, ["shape"] = "circle", ["latitude"] = "1", ["longitude"] = "1", ["radius"] = "2",
        }, $"{url}?handler=save")).Body.ShouldContain("circle.radius must be 10 to 100000 metres");

        // Editing keeps the form filled in; saving changes the fence in place.
        var id = pier.GetProperty("id").GetInt64();
        (await m.GetAsync($"{url}?edit={id}")).Body.ShouldContain("value=\"40.9903\"");
        (await m.PostFormAsync($"{url}?edit={id}", new Dictionary<string, string>
        {
            ["name"] = "Pier", ["groupId"] = group, ["shape"] = "circle", ["latitude"] = "40.9903", ["longitude"] = "29.023", ["radius"] = "400",
        }, $"{url}?handler=save&edit={id}")).Location.ShouldBe(url);
        var changed = await app.Rest().GetJson($"/api/v1/geofences/{id}");
        changed.GetProperty("circle").GetProperty("radius").GetDouble().ShouldBe(400);
        changed.GetProperty("active").GetBoolean().ShouldBeFalse();

        // The campaign wizard targets the devices inside fences.
        var wizard = $"/panel/apps/{app.Id}/campaigns/edit";
        (await m.GetAsync(wizard)).Body.ShouldContain("Inside geofences now");
        var campaign = SavedId(await m.PostFormAsync(wizard, new Dictionary<string, string>
        {
            ["name"] = "At the pier", ["channel"] = "push", ["title"] = "Ferry soon", ["body"] = "Pier 2", ["audience"] = "geofences",
            ["geofences"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture), ["schedule"] = "now", ["catalogItem"] = "FERRY-PASS",
        }));
        (await app.Rest().GetJson($"/api/v1/campaigns/{campaign}")).GetProperty("definition").GetProperty("content").GetProperty("catalogItem").GetString().ShouldBe("FERRY-PASS");
        (await app.Rest().GetJson($"/api/v1/campaigns/{campaign}")).GetProperty("definition").GetProperty("audience").GetProperty("geofences")
            .EnumerateArray().Select(x => x.GetInt64()).ShouldBe([id]);
        (await m.GetAsync($"/panel/apps/{app.Id}/campaigns/{campaign}/review")).Body.ShouldContain($"Inside geofences: #{id}");

        (await m.PostFormAsync(url, new Dictionary<string, string> { ["fenceId"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, $"{url}?handler=delete"))
            .Body.ShouldContain("Geofence deleted.");
        (await app.Rest().GetJson("/api/v1/geofences")).GetArrayLength().ShouldBe(1);
        var audit = await AuditAsync();
        audit.Where(e => e.AppId == app.Id).Select(e => e.Action).ShouldContain("geofence.create");
        audit.Where(e => e.AppId == app.Id).Select(e => e.Action).ShouldContain("geofence.delete");
    }

    [Fact]
    public async Task Widgets_page_lists_creates_edits_uploads_and_deletes_for_marketers_only()
    {
        var (app, owner, v, _) = await SetUpAsync();
        var list = $"/panel/apps/{app.Id}/widgets";
        var edit = $"{list}/edit";
        (await v.GetAsync(list)).Body.ShouldContain("No widgets yet.");
        (await v.GetAsync(edit)).Body.ShouldNotContain("Save widget");
        var form = new List<KeyValuePair<string, string>>
        {
            new("name", "Winter sale"), new("active", "on"), new("title", "20% off"), new("text", "Only this week"), new("position", "bottom-right"),
            new("imageAsset", ""), new("videoAsset", ""),
            new("buttonText", "Shop now"), new("buttonAction", "url"), new("buttonTarget", "https://shop.example/sale"),
            new("buttonText", ""), new("buttonAction", "dismiss"), new("buttonTarget", ""),
            new("colorBackground", "#102030"), new("colorText", ""), new("colorButton", ""), new("colorButtonText", ""),
            new("urlPattern", "/cart*"), new("triggerEvent", ""), new("segmentId", ""), new("frequency", "once_per_session"),
            new("startAt", "2026-12-01T09:00"), new("endAt", ""),
        };
        (await v.PostFormPairsAsync($"/panel/apps/{app.Id}/segments/edit", form, edit)).Status.ShouldBe(HttpStatusCode.Forbidden);

        var m = PanelClient.For(host);
        await m.LoginAsync((await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer, owner)).Email, PanelAccounts.Password);
        // An image uploaded through the panel is offered in the image picker; an oversize one is refused with the limit.
        var uploaded = await m.PostFileAsync(edit, $"{edit}?handler=upload", "file", "banner.png", WidgetTests.Png.Concat(new byte[2048]).ToArray());
        uploaded.Status.ShouldBe(HttpStatusCode.OK);
        uploaded.Body.ShouldContain("Uploaded banner.png: image");
        var key = System.Text.RegularExpressions.Regex.Match(uploaded.Body, "<option value=\"([^\"]+)\">image/png").Groups[1].Value;
        key.ShouldNotBeEmpty();
        var big = await m.PostFileAsync(edit, $"{edit}?handler=upload", "file", "huge.png", WidgetTests.Png.Concat(new byte[1024 * 1024]).ToArray());
        big.Body.ShouldContain("images are limited to 1048576 bytes (1 MB)");

        form[5] = new("imageAsset", key);
        var saved = await m.PostFormPairsAsync(edit, form);
        saved.Location.ShouldBe(list);
        var w = (await app.Rest().GetJson("/api/v1/widgets")).EnumerateArray().Single();
        var id = w.GetProperty("id").GetInt64();
        w.GetProperty("layout").GetProperty("title").GetString().ShouldBe("20% off");
        w.GetProperty("layout").GetProperty("imageAsset").GetString().ShouldBe(key);
        w.GetProperty("layout").GetProperty("position").GetString().ShouldBe("bottom-right");
        w.GetProperty("layout").GetProperty("buttons").GetArrayLength().ShouldBe(1);
        w.GetProperty("layout").GetProperty("colors").GetProperty("background").GetString().ShouldBe("#102030");
        w.GetProperty("rules").GetProperty("urlPattern").GetString().ShouldBe("/cart*");
        w.GetProperty("rules").GetProperty("frequency").GetString().ShouldBe("once_per_session");
        w.GetProperty("rules").GetProperty("startAt").GetDateTimeOffset().ShouldBe(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero));
        var shown = System.Net.WebUtility.HtmlDecode((await v.GetAsync(list)).Body);
        shown.ShouldContain("Winter sale");
        shown.ShouldContain("pages /cart* · on load · once per session");
        (await m.GetAsync($"{edit}/{id}")).Body.ShouldContain("value=\"2026-12-01T09:00\"");

        // The service's checks come back on the page, naming the field; a bad time too.
        var bad = await m.PostFormPairsAsync($"{edit}/{id}", form.Select(x => x.Key == "buttonTarget" && x.Value.StartsWith("https", StringComparison.Ordinal) ? new KeyValuePair<string, string>(x.Key, "javascript:alert(1)") : x));
        bad.Status.ShouldBe(HttpStatusCode.OK);
        bad.Body.ShouldContain("layout.buttons[0]");
        (await m.PostFormPairsAsync($"{edit}/{id}", form.Select(x => x.Key == "endAt" ? new KeyValuePair<string, string>(x.Key, "soon") : x))).Body.ShouldContain("endAt: not a date and time");

        // The file a widget shows is not deleted; once the widget is gone, it is.
        var keep = await m.PostFormAsync($"{edit}/{id}", new Dictionary<string, string> { ["key"] = key }, $"{edit}/{id}?handler=deleteAsset");
        System.Net.WebUtility.HtmlDecode(keep.Body).ShouldContain("is shown by 'Winter sale'");
        var deleted = await m.PostFormAsync($"{edit}/{id}", new Dictionary<string, string>(), $"{edit}/{id}?handler=delete");
        deleted.Location.ShouldBe(list);
        (await app.Rest().GetJson("/api/v1/widgets")).GetArrayLength().ShouldBe(0);
        (await m.PostFormAsync(edit, new Dictionary<string, string> { ["key"] = key }, $"{edit}?handler=deleteAsset")).Body.ShouldContain("File deleted.");
        (await app.Rest().GetJson("/api/v1/widgets/assets")).GetArrayLength().ShouldBe(0);
        var audited = (await AuditAsync()).Where(e => e.AppId == app.Id).Select(e => e.Action).ToList();
        audited.ShouldContain("widget.asset");
        audited.ShouldContain("widget.create");
        audited.ShouldContain("widget.delete");
        audited.ShouldContain("widget.asset.delete");
    }

    [Fact]
    public async Task Analytics_pages_draw_the_trend_funnel_and_retention_and_export_them()
    {
        var (app, _, v, a) = await SetUpAsync();
        var url = $"/panel/apps/{app.Id}/analytics";
        (await v.GetAsync(url)).Body.ShouldContain("No events yet.");
        var device = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"ios"}""")).GetProperty("installationId").GetString()!;
        var now = host.Clock.GetUtcNow();
        string At(int daysAgo, int hour) => now.UtcDateTime.Date.AddDays(-daysAgo).AddHours(hour).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        string Day(int daysAgo) => now.UtcDateTime.Date.AddDays(-daysAgo).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        await app.Sdk().PostOk("/sdk/v1/events", $$$"""{"installationId":"{{{device}}}","events":[{"name":"Viewed Product","messageId":"a-1","timestamp":"{{{At(2, 10)}}}"},{"name":"Viewed Product","messageId":"a-2","timestamp":"{{{At(1, 10)}}}"},{"name":"Bought","messageId":"a-3","timestamp":"{{{At(1, 11)}}}"}]}""");
        var events = await app.Rest().GetJson("/api/v1/analytics/events/Viewed%20Product");
        events.GetProperty("total").GetProperty("count").GetInt64().ShouldBe(2);

        var trend = await v.GetAsync($"{url}?event=Viewed+Product&chart=bar");
        trend.Status.ShouldBe(HttpStatusCode.OK, trend.Body[Math.Max(0, trend.Body.IndexOf("flash", StringComparison.Ordinal))..][..Math.Min(400, trend.Body.Length)]);
        trend.Body.ShouldContain("id=\"trend-chart\"");
        trend.Body.ShouldContain(Day(1));
        trend.Body.ShouldContain("class=\"bar\"");
        var bad = await v.GetAsync($"{url}?event=Viewed+Product&from=2026-13-40");
        bad.Status.ShouldBe(HttpStatusCode.BadRequest);
        bad.Body.ShouldContain("class=\"flash err\"");

        var funnel = await v.GetAsync($"{url}/funnel?step=Viewed+Product&step=Bought&windowDays=7");
        funnel.Status.ShouldBe(HttpStatusCode.OK);
        funnel.Body.ShouldContain("id=\"funnel-chart\"");
        funnel.Body.ShouldContain("100%");
        (await v.GetAsync($"{url}/funnel?step=Bought")).Body.ShouldContain("2 to 10 steps");

        var retention = await v.GetAsync($"{url}/retention?cohortEvent=Viewed+Product&returnEvent=Viewed+Product");
        retention.Status.ShouldBe(HttpStatusCode.OK);
        retention.Body.ShouldContain("id=\"retention-table\"");
        retention.Body.ShouldContain(Day(2));

        // CSV downloads of the same results: exports are for marketers and above, and audited.
        trend.Body.ShouldNotContain("id=\"trend-csv\"");
        (await v.GetAsync($"{url}?event=Viewed+Product&handler=csv")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await a.GetAsync($"{url}?event=Viewed+Product")).Body.ShouldContain("id=\"trend-csv\"");
        var trendCsv = await a.GetAsync($"{url}?event=Viewed+Product&from={Day(3)}&to={Day(0)}&handler=csv");
        trendCsv.Status.ShouldBe(HttpStatusCode.OK);
        trendCsv.Body.TrimStart('\uFEFF').Split("\r\n").ShouldBe([
            "day_start,events,unique_devices,unique_users,revenue", $"{Day(3)},0,0,0,0", $"{Day(2)},1,1,0,0", $"{Day(1)},1,1,0,0", $"{Day(0)},0,0,0,0", ""]);
        var funnelCsv = await a.GetAsync($"{url}/funnel?step=Viewed+Product&step=Bought&windowDays=7&handler=csv");
        funnelCsv.Body.TrimStart('\uFEFF').Split("\r\n").ShouldBe([
            "step,event,reached,from_previous,from_start,dropped_after", "1,Viewed Product,1,1,1,0", "2,Bought,1,1,1,0", ""]);
        var retentionCsv = await a.GetAsync($"{url}/retention?cohortEvent=Viewed+Product&returnEvent=Viewed+Product&period=day&periods=2&handler=csv");
        retentionCsv.Body.TrimStart('\uFEFF').ShouldStartWith($"cohort_start,size,day_0,day_1\r\n{Day(2)},1,1,"); // the same columns as the grid
        (await AuditAsync()).Count(e => e.AppId == app.Id && e.Action == "analytics.export").ShouldBe(3);
    }

    [Fact]
    public async Task Team_invites_changes_roles_up_to_ones_own_unlocks_and_only_owners_read_the_audit_log()
    {
        var (app, owner, v, a) = await SetUpAsync();
        var url = $"/panel/apps/{app.Id}/team";
        (await v.GetAsync(url)).Status.ShouldBe(HttpStatusCode.OK);
        (await v.PostFormAsync($"/panel/apps/{app.Id}/segments/edit", new Dictionary<string, string> { ["email"] = "x@example.com", ["role"] = "viewer" }, url + "?handler=invite")).Status.ShouldBe(HttpStatusCode.Forbidden);

        var invited = await a.PostFormAsync(url, new Dictionary<string, string> { ["email"] = "new.member@example.com", ["role"] = "marketer" }, url + "?handler=invite");
        invited.Status.ShouldBe(HttpStatusCode.OK);
        invited.Body.ShouldContain("/panel/invite/");
        (await a.PostFormAsync(url, new Dictionary<string, string> { ["email"] = "boss@example.com", ["role"] = "owner" }, url + "?handler=invite")).Body.ShouldContain("you can grant");

        var member = await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer, owner);
        (await a.PostFormAsync(url, new Dictionary<string, string> { ["userId"] = member.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), ["role"] = "approver" }, url + "?handler=role"))
            .Body.ShouldContain("is now approver");
        var accounts = host.Services.GetRequiredService<AccountService>();
        (await accounts.RoleAsync(member, app.Id, CancellationToken.None)).ShouldBe(Roles.Approver);
        (await a.PostFormAsync(url, new Dictionary<string, string> { ["userId"] = member.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, url + "?handler=unlock")).Body.ShouldContain("unlocked");

        // The audit log is for owners: admins and viewers get 403, an owner sees the entries.
        (await a.GetAsync($"/panel/apps/{app.Id}/audit")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await v.GetAsync($"/panel/apps/{app.Id}/audit")).Status.ShouldBe(HttpStatusCode.Forbidden);
        var o = PanelClient.For(host);
        await o.LoginAsync(owner.Email, PanelAccounts.Password);
        var log = await o.GetAsync($"/panel/apps/{app.Id}/audit");
        log.Status.ShouldBe(HttpStatusCode.OK);
        log.Body.ShouldContain("member.invite");
        log.Body.ShouldContain("member.unlock");
        (await o.GetAsync($"/panel/apps/{app.Id}/audit?q=member.role")).Body.ShouldNotContain("member.unlock</code>");
        (await o.PostFormAsync(url, new Dictionary<string, string> { ["expiryDays"] = "30" }, url + "?handler=security")).Body.ShouldContain("Security settings saved.");
        (await a.PostFormAsync(url, new Dictionary<string, string> { ["expiryDays"] = "30" }, url + "?handler=security")).Status.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Campaign_wizard_saves_a_draft_previews_sends_reports_and_stops()
    {
        var (app, owner, v, _) = await SetUpAsync();
        foreach (var (channel, body) in new[] { ("fcm", host.Providers.FcmCredentials), ("apns", host.Providers.ApnsCredentials) })
            (await app.Rest().PutAsJsonAsync($"/api/v1/app/credentials/{channel}", body, TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var device = (await app.Sdk().PostOk("/sdk/v1/devices", $$$"""{"platform":"android","pushToken":"fcm-{{{Guid.NewGuid():N}}}","pushEnabled":true}""")).GetProperty("installationId").GetString()!;
        await app.Sdk().PostOk("/sdk/v1/identify", $$$"""{"installationId":"{{{device}}}","externalId":"wizard-user","attributes":{"first_name":"Ayşe"}}""");
        var marketer = await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer, owner);
        var m = PanelClient.For(host);
        await m.LoginAsync(marketer.Email, PanelAccounts.Password);

        var list = $"/panel/apps/{app.Id}/campaigns";
        (await v.GetAsync(list)).Body.ShouldContain("No campaigns yet.");
        var edit = $"{list}/edit";
        var form = new Dictionary<string, string>
        {
            ["name"] = "Panel hello", ["channel"] = "push", ["title"] = "Hi {{first_name}}", ["body"] = "Welcome back",
            ["audience"] = "users", ["users"] = "wizard-user", ["schedule"] = "now",
        };
        (await v.PostFormAsync(edit, form)).Status.ShouldBe(HttpStatusCode.Forbidden);
        var invalid = await m.PostFormAsync(edit, new Dictionary<string, string>(form) { ["title"] = "Hi {{first_name" });
        invalid.Status.ShouldBe(HttpStatusCode.BadRequest);
        invalid.Body.ShouldContain("class=\"flash err\"");
        var saved = await m.PostFormAsync(edit, form);
        saved.Location.ShouldNotBeNull();
        saved.Location.ShouldEndWith("/review");
        var review = await m.GetAsync(saved.Location + "?previewFor=wizard-user");
        review.Status.ShouldBe(HttpStatusCode.OK);
        review.Body.ShouldContain("Hi Ay"); review.Body.ShouldContain("id=\"device-preview\"");
        review.Body.ShouldContain("id=\"audience-size\">1<");
        review.Body.ShouldContain("id=\"send\"");
        // A viewer reads the review page without a Send button, and a crafted send is refused and audited.
        var viewerReview = await v.GetAsync(saved.Location);
        viewerReview.Status.ShouldBe(HttpStatusCode.OK);
        viewerReview.Body.ShouldNotContain("id=\"send\"");
        (await v.PostFormAsync($"/panel/apps/{app.Id}/segments/edit", new Dictionary<string, string>(), saved.Location + "?handler=send")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await AuditAsync()).ShouldContain(e => e.AppId == app.Id && e.Action == "refused" && e.Detail == $"POST {saved.Location} needs EditCampaigns");
        (await host.Services.GetRequiredService<Herald.Server.Campaigns.CampaignService>().GetAsync(app.Id, long.Parse(saved.Location.Split('/')[^2], System.Globalization.CultureInfo.InvariantCulture), CancellationToken.None))!
            .State.ShouldBe("draft");

        var sent = await m.PostFormAsync(saved.Location, new Dictionary<string, string>(), saved.Location + "?handler=send");
        sent.Location.ShouldNotBeNull();
        sent.Location.ShouldEndWith("/report");
        var report = await v.GetAsync(sent.Location);
        report.Status.ShouldBe(HttpStatusCode.OK);
        report.Body.ShouldContain("data-key=\"targeted\">1<");
        System.Text.Json.JsonElement json = default;
        for (var i = 0; i < 200; i++)
        {
            json = System.Text.Json.JsonDocument.Parse((await v.GetAsync(sent.Location + "?handler=json")).Body).RootElement;
            if (json.GetProperty("sent").GetInt32() == 1) break;
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        json.GetProperty("sent").GetInt32().ShouldBe(1);
        (await m.GetAsync(list)).Body.ShouldContain("Panel hello");
        // The user's page lists it under messages received; so does the REST API, for the user and the device.
        var profile = (await v.GetAsync($"/panel/apps/{app.Id}/users?q=wizard-user")).Body;
        profile[profile.IndexOf("id=\"messages\"", StringComparison.Ordinal)..].ShouldContain("Panel hello");
        foreach (var path in new[] { "/api/v1/users/wizard-user/messages", $"/api/v1/devices/{device}/messages" })
        {
            var received = (await app.Rest().GetJson(path)).EnumerateArray().ToList();
            received.Count.ShouldBe(1, path);
            received[0].GetProperty("campaign").GetString().ShouldBe("Panel hello");
            received[0].GetProperty("state").GetString().ShouldBe("sent");
            received[0].GetProperty("installationId").GetString().ShouldBe(device);
        }
        (await app.Rest().GetJson("/api/v1/users/nobody/messages")).GetArrayLength().ShouldBe(0);
        await (await app.Rest().GetAsync("/api/v1/users/wizard-user/messages?limit=0", TestContext.Current.CancellationToken)).ShouldBeProblem(HttpStatusCode.BadRequest, "limit");

        (await v.PostFormAsync($"/panel/apps/{app.Id}/segments/edit", new Dictionary<string, string> { ["reason"] = "x" }, sent.Location + "?handler=stop")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await m.PostFormAsync(sent.Location, new Dictionary<string, string> { ["reason"] = "" }, sent.Location + "?handler=stop")).Body.ShouldContain("Give a reason");
        var stopped = await m.PostFormAsync(sent.Location, new Dictionary<string, string> { ["reason"] = "wrong audience" }, sent.Location + "?handler=stop");
        // Everything went out already: the service refuses and the page says why.
        stopped.Status.ShouldBe(HttpStatusCode.BadRequest);
        stopped.Body.ShouldContain("class=\"flash err\"");
        var recalled = await m.PostFormAsync(sent.Location, new Dictionary<string, string> { ["reason"] = "typo" }, sent.Location + "?handler=recall");
        recalled.Status.ShouldBe(HttpStatusCode.OK);
        recalled.Body.ShouldContain("not guaranteed");
        var audit = await AuditAsync();
        foreach (var action in new[] { "campaign.create", "campaign.send", "campaign.recall" })
            audit.ShouldContain(e => e.AppId == app.Id && e.Action == action);
    }
    [Fact]
    public async Task Wizard_previews_the_unsaved_form_for_a_user_and_saves_languages_exclusions_and_limits()
    {
        var (app, owner, v, _) = await SetUpAsync();
        foreach (var (platform, locale, user, name) in new[] { ("android", "tr-TR", "tr-user", "Şule"), ("ios", "en-US", "en-user", "Sam") })
        {
            var device = (await app.Sdk().PostOk("/sdk/v1/devices", $$$"""{"platform":"{{{platform}}}","pushToken":"{{{platform}}}-{{{Guid.NewGuid():N}}}","pushEnabled":true,"locale":"{{{locale}}}"}"""))
                .GetProperty("installationId").GetString()!;
            await app.Sdk().PostOk("/sdk/v1/identify", $$$"""{"installationId":"{{{device}}}","externalId":"{{{user}}}","attributes":{"first_name":"{{{name}}}"}}""");
        }
        using var created = await app.Rest().PostAsync("/api/v1/segments", Http.Json("""{"name":"iPhones","rules":{"device":"platform","op":"eq","value":"ios"}}"""), TestContext.Current.CancellationToken);
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var iphones = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.GetProperty("id").GetInt64();
        var m = PanelClient.For(host);
        await m.LoginAsync((await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer, owner)).Email, PanelAccounts.Password);
        var edit = $"/panel/apps/{app.Id}/campaigns/edit";
        var form = new Dictionary<string, string>
        {
            ["name"] = "Arrivals", ["channel"] = "push", ["title"] = "Hi {{first_name}}", ["body"] = "New arrivals",
            ["localeCode"] = "tr", ["localeTitle"] = "Merhaba {{first_name}}", ["localeBody"] = "Yeni ürünler",
            ["audience"] = "all", ["exclude"] = iphones.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["schedule"] = "now", ["maxPerDay"] = "2", ["maxRecipients"] = "100", ["previewFor"] = "tr-user",
        };
        async Task<System.Text.Json.JsonElement> PreviewAsync(PanelClient c, Dictionary<string, string> f)
        {
            var r = await c.PostFormAsync(edit, f, edit + "?handler=preview");
            r.Status.ShouldBe(HttpStatusCode.OK, r.Body);
            return System.Text.Json.JsonDocument.Parse(r.Body).RootElement.Clone();
        }

        // The Turkish device gets the Turkish variant with its own name; everyone but the iPhones is reachable.
        var tr = await PreviewAsync(m, form);
        tr.GetProperty("audience").GetInt32().ShouldBe(1);
        tr.GetProperty("preview").GetProperty("locale").GetString().ShouldBe("tr");
        tr.GetProperty("preview").GetProperty("rendered").GetProperty("title").GetString().ShouldBe("Merhaba Şule");
        tr.GetProperty("preview").GetProperty("rendered").GetProperty("body").GetString().ShouldBe("Yeni ürünler");
        var en = await PreviewAsync(m, new Dictionary<string, string>(form) { ["previewFor"] = "en-user", ["exclude"] = "" });
        en.GetProperty("audience").GetInt32().ShouldBe(2);
        en.GetProperty("preview").GetProperty("rendered").GetProperty("title").GetString().ShouldBe("Hi Sam");
        var broken = await PreviewAsync(m, new Dictionary<string, string>(form) { ["title"] = "Hi {{first_name" });
        broken.GetProperty("previewError").GetString()!.ShouldContain("content.title does not compile");
        broken.GetProperty("audience").GetInt32().ShouldBe(1);
        (await PreviewAsync(m, new Dictionary<string, string>(form) { ["previewFor"] = "nobody" })).GetProperty("previewError").GetString()!.ShouldContain("nobody");
        (await PreviewAsync(m, new Dictionary<string, string>(form) { ["maxRecipients"] = "lots" })).GetProperty("audienceError").GetString()!.ShouldContain("limits.maxRecipients");
        // Viewers may preview (it reads only) but not save; without the anti-forgery token nothing answers.
        (await PreviewAsync(v, form)).GetProperty("preview").GetProperty("rendered").GetProperty("title").GetString().ShouldBe("Merhaba Şule");
        (await v.PostFormAsync(edit, form)).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await m.PostFormAsync(edit, form, edit + "?handler=preview", withToken: false)).Status.ShouldBe(HttpStatusCode.BadRequest);

        var saved = await m.PostFormAsync(edit, form);
        saved.Location.ShouldNotBeNull();
        var id = long.Parse(saved.Location.Split('/')[^2], System.Globalization.CultureInfo.InvariantCulture);
        var d = (await host.Services.GetRequiredService<Herald.Server.Campaigns.CampaignService>().GetAsync(app.Id, id, CancellationToken.None))!.Definition;
        d.Content.Locales!["tr"].Title.ShouldBe("Merhaba {{first_name}}");
        d.Content.Locales["tr"].Body.ShouldBe("Yeni ürünler");
        d.Audience.All.ShouldBeTrue();
        d.Audience.ExcludeSegments.ShouldBe([iphones]);
        d.Limits.MaxPerUserPerDay.ShouldBe(2);
        d.Limits.MaxRecipients.ShouldBe(100);
        var again = await m.GetAsync($"{edit}/{id}");
        again.Body.ShouldContain("name=\"localeCode\" value=\"tr\"");
        again.Body.ShouldContain("id=\"wizard-audience\">1<");
        (await m.PostFormAsync(edit, new Dictionary<string, string>(form) { ["maxPerDay"] = "-1" })).Body.ShouldContain("limits.maxPerUserPerDay must be a whole number");
    }

    /// <summary>A marketer's panel client and the wizard's URL; the saved campaign's id from the Review redirect.</summary>
    [Fact]
    public async Task Approval_gates_send_and_activate_until_someone_else_approves_and_an_edit_withdraws_it()
    {
        var (app, owner, _, admin) = await SetUpAsync();
        var ct = TestContext.Current.CancellationToken;
        var settings = $"/panel/apps/{app.Id}/settings";
        (await admin.PostFormAsync(settings, new Dictionary<string, string> { ["name"] = "Four eyes", ["requireApproval"] = "true" }, settings + "?handler=general"))
            .Body.ShouldContain("Settings saved.");
        (await host.Services.GetRequiredService<AppService>().GetAsync(app.Id, CancellationToken.None))!.Limits.RequireApproval.ShouldBeTrue();
        (await admin.GetAsync(settings)).Body.ShouldContain("name=\"requireApproval\" value=\"true\" checked");
        var m = PanelClient.For(host);
        await m.LoginAsync((await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer, owner)).Email, PanelAccounts.Password);
        var approverUser = await PanelAccounts.MemberAsync(host, app.Id, Roles.Approver, owner);
        var p = PanelClient.For(host);
        await p.LoginAsync(approverUser.Email, PanelAccounts.Password);

        var id = SavedId(await m.PostFormAsync($"/panel/apps/{app.Id}/campaigns/edit", new Dictionary<string, string>
        {
            ["name"] = "Needs a nod", ["channel"] = "push", ["title"] = "Hello", ["body"] = "Approved text", ["audience"] = "all", ["schedule"] = "now",
        }));
        var review = $"/panel/apps/{app.Id}/campaigns/{id}/review";
        var page = (await m.GetAsync(review)).Body;
        page.ShouldContain("id=\"awaiting-approval\"");
        page.ShouldContain("id=\"needs-approval\"");
        page.ShouldNotContain("id=\"send\"");
        page.ShouldNotContain("id=\"approve\"");
        // Neither a crafted panel send nor the REST API gets past it; a marketer cannot approve.
        var crafted = await m.PostFormAsync(settings, new Dictionary<string, string>(), review + "?handler=send");
        crafted.Status.ShouldBe(HttpStatusCode.BadRequest);
        crafted.Body.ShouldContain("requires an approval");
        await (await app.Rest().PostAsync($"/api/v1/campaigns/{id}/send", null, ct)).ShouldBeProblem(HttpStatusCode.Conflict, "approval");
        (await m.PostFormAsync(settings, new Dictionary<string, string>(), review + "?handler=approve")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("state").GetString().ShouldBe("draft");

        var approverPage = (await p.GetAsync(review)).Body;
        approverPage.ShouldContain("id=\"approve\"");
        approverPage.ShouldContain("approves campaigns");
        (await p.PostFormAsync(review, new Dictionary<string, string>(), review + "?handler=approve")).Location.ShouldBe(review);
        (await m.GetAsync(review)).Body.ShouldContain("id=\"send\"");
        (await p.GetAsync(review)).Body.ShouldContain($"Approved by <strong>{approverUser.Email}</strong>");
        (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("approval").GetProperty("actor").GetString().ShouldBe($"panel:{approverUser.Email}");
        (await AuditAsync()).ShouldContain(e => e.AppId == app.Id && e.Action == "campaign.approve" && e.Detail == $"campaign {id} 'Needs a nod'");
        var twice = await p.PostFormAsync(settings, new Dictionary<string, string>(), review + "?handler=approve");
        twice.Status.ShouldBe(HttpStatusCode.BadRequest);
        twice.Body.ShouldContain("needs no second approval");

        // An edit after the approval withdraws it: what goes out is what was approved.
        (await app.Rest().PutAsJsonAsync($"/api/v1/campaigns/{id}", new { name = "Needs a nod", channel = "push", content = new { title = "Hello", body = "Changed text" }, audience = new { all = true } }, ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);
        (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("approval").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        await (await app.Rest().PostAsync($"/api/v1/campaigns/{id}/send", null, ct)).ShouldBeProblem(HttpStatusCode.Conflict, "approval");
        (await p.PostFormAsync(review, new Dictionary<string, string>(), review + "?handler=approve")).Location.ShouldBe(review);
        (await app.Rest().PostAsync($"/api/v1/campaigns/{id}/send", null, ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("state").GetString().ShouldNotBe("draft");
        (await p.PostFormAsync(settings, new Dictionary<string, string>(), review + "?handler=approve")).Body.ShouldContain("only a draft is approved");

        // A scheduled campaign is planned already: with approval required, an edit is refused rather
        // than going out unapproved at its time.
        var at = host.Clock.GetUtcNow().AddDays(1);
        await app.Sdk().PostOk("/sdk/v1/devices", $$$"""{"platform":"android","pushToken":"fcm-{{{Guid.NewGuid():N}}}","pushEnabled":true}""");
        using var laterRes = await app.Rest().PostAsJsonAsync("/api/v1/campaigns", new
        {
            name = "Tomorrow", channel = "push", content = new { title = "Soon", body = "b" }, audience = new { all = true }, schedule = new { type = "at", at },
        }, ct);
        var later = (await laterRes.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(ct)).GetProperty("id").GetInt64();
        var laterReview = $"/panel/apps/{app.Id}/campaigns/{later}/review";
        (await p.PostFormAsync(laterReview, new Dictionary<string, string>(), laterReview + "?handler=approve")).Location.ShouldBe(laterReview);
        (await app.Rest().PostOk($"/api/v1/campaigns/{later}/send", "{}")).GetProperty("state").GetString().ShouldBe("scheduled");
        await (await app.Rest().PutAsJsonAsync($"/api/v1/campaigns/{later}", new
        {
            name = "Tomorrow", channel = "push", content = new { title = "Changed", body = "b" }, audience = new { all = true }, schedule = new { type = "at", at },
        }, ct)).ShouldBeProblem(HttpStatusCode.Conflict, "approval");

        // Four eyes: an admin may approve, but not their own change.
        var own = SavedId(await admin.PostFormAsync($"/panel/apps/{app.Id}/campaigns/edit", new Dictionary<string, string>
        {
            ["name"] = "My own", ["channel"] = "push", ["title"] = "Hi", ["body"] = "Mine", ["audience"] = "all", ["schedule"] = "now",
        }));
        var ownReview = $"/panel/apps/{app.Id}/campaigns/{own}/review";
        var self = await admin.PostFormAsync(ownReview, new Dictionary<string, string>(), ownReview + "?handler=approve");
        self.Status.ShouldBe(HttpStatusCode.BadRequest);
        self.Body.ShouldContain("someone else");
        (await app.Rest().GetJson($"/api/v1/campaigns/{own}")).GetProperty("approval").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);

        // Activation of an automation waits for the approval too.
        using var created = await app.Rest().PostAsJsonAsync("/api/v1/campaigns", new
        {
            name = "Cart nudge", channel = "push", content = new { title = "Still there?", body = "b" }, audience = new { all = true },
            trigger = new { type = "event", @event = "added_to_cart" },
        }, ct);
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var auto = (await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(ct)).GetProperty("id").GetInt64();
        await (await app.Rest().PostAsync($"/api/v1/campaigns/{auto}/activate", null, ct)).ShouldBeProblem(HttpStatusCode.Conflict, "approval");
        var autoReview = $"/panel/apps/{app.Id}/campaigns/{auto}/review";
        (await admin.PostFormAsync(autoReview, new Dictionary<string, string>(), autoReview + "?handler=approve")).Location.ShouldBe(autoReview);
        (await app.Rest().PostAsync($"/api/v1/campaigns/{auto}/activate", null, ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await app.Rest().GetJson($"/api/v1/campaigns/{auto}")).GetProperty("state").GetString().ShouldBe("active");

        // A transactional message is not a campaign to approve.
        var device = (await app.Sdk().PostOk("/sdk/v1/devices", $$$"""{"platform":"android","pushToken":"fcm-{{{Guid.NewGuid():N}}}","pushEnabled":true}""")).GetProperty("installationId").GetString()!;
        using var tx = await app.Rest().PostAsJsonAsync("/api/v1/messages", new { channel = "push", devices = new[] { device }, content = new { title = "Your code", body = "123456" } }, ct);
        tx.StatusCode.ShouldBe(HttpStatusCode.OK, await tx.Content.ReadAsStringAsync(ct));
    }

    private async Task<(TestApp App, PanelClient Viewer, PanelClient Marketer, string Edit)> WizardAsync()
    {
        var (app, owner, v, _) = await SetUpAsync();
        var m = PanelClient.For(host);
        await m.LoginAsync((await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer, owner)).Email, PanelAccounts.Password);
        return (app, v, m, $"/panel/apps/{app.Id}/campaigns/edit");
    }

    private static long SavedId((HttpStatusCode Status, string Body, string? Location) saved)
    {
        saved.Location.ShouldNotBeNull(saved.Body.Contains("flash err", StringComparison.Ordinal) ? saved.Body[saved.Body.IndexOf("flash err", StringComparison.Ordinal)..][..300] : saved.Status.ToString());
        saved.Location.ShouldEndWith("/review");
        return long.Parse(saved.Location.Split('/')[^2], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Wizard_edits_buttons_and_data_and_keeps_what_only_the_api_sets()
    {
        var (app, _, m, edit) = await WizardAsync();
        var ct = TestContext.Current.CancellationToken;
        var device = (await app.Sdk().PostOk("/sdk/v1/devices", $$$"""{"platform":"android","pushToken":"fcm-{{{Guid.NewGuid():N}}}","pushEnabled":true}""")).GetProperty("installationId").GetString()!;
        using var created = await app.Rest().PostAsJsonAsync("/api/v1/campaigns", new
        {
            name = "From the API", channel = "push",
            content = new
            {
                title = "Hi", body = "Sale", sound = "chime.caf", badge = 3, ttlSeconds = 3600, collapseKey = "sale",
                buttons = new[] { new { text = "Shop", action = "url", target = "https://example.com/sale" } },
                data = new Dictionary<string, string> { ["product_id"] = "42" },
            },
            audience = new { devices = new[] { device }, platforms = new[] { "android" } },
        }, ct);
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var id = (await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(ct)).GetProperty("id").GetInt64();

        var page = (await m.GetAsync($"{edit}/{id}")).Body;
        page.ShouldContain("value=\"Shop\"");
        page.ShouldContain("value=\"product_id\"");
        page.ShouldContain("name=\"audience\" value=\"devices\" checked");
        var kept = System.Net.WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(page, "name=\"kept\" value=\"([^\"]*)\"").Groups[1].Value);
        kept.ShouldContain("chime.caf");

        // The marketer changes the texts, a button and the data, as the browser posts the form.
        var saved = await m.PostFormAsync($"{edit}/{id}", new Dictionary<string, string>
        {
            ["name"] = "From the API", ["channel"] = "push", ["title"] = "Hi again", ["body"] = "Sale ends today", ["audience"] = "devices", ["schedule"] = "now",
            ["kept"] = kept, ["buttonText"] = "Shop now", ["buttonAction"] = "deeplink", ["buttonTarget"] = "shop://sale",
            ["dataKey"] = "product_id", ["dataValue"] = "{{default last_product \"42\"}}",
        });
        SavedId(saved).ShouldBe(id);
        var d = (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("definition");
        var c = d.GetProperty("content");
        c.GetProperty("title").GetString().ShouldBe("Hi again");
        c.GetProperty("buttons")[0].GetProperty("text").GetString().ShouldBe("Shop now");
        c.GetProperty("buttons")[0].GetProperty("action").GetString().ShouldBe("deeplink");
        c.GetProperty("buttons")[0].GetProperty("target").GetString().ShouldBe("shop://sale");
        c.GetProperty("data").GetProperty("product_id").GetString().ShouldBe("{{default last_product \"42\"}}");
        // Not in the wizard, kept: sound, badge, TTL, collapse key, the devices and the platform filter.
        c.GetProperty("sound").GetString().ShouldBe("chime.caf");
        c.GetProperty("badge").GetInt32().ShouldBe(3);
        c.GetProperty("ttlSeconds").GetInt32().ShouldBe(3600);
        c.GetProperty("collapseKey").GetString().ShouldBe("sale");
        d.GetProperty("audience").GetProperty("devices")[0].GetString().ShouldBe(device);
        d.GetProperty("audience").GetProperty("platforms")[0].GetString().ShouldBe("android");
        (d.GetProperty("audience").TryGetProperty("all", out var all) && all.ValueKind == System.Text.Json.JsonValueKind.True).ShouldBeFalse();

        // A new campaign from the wizard with two buttons; a data key given twice is refused by name.
        var fresh = SavedId(await m.PostFormAsync(edit, new Dictionary<string, string>
        {
            ["name"] = "Buttons", ["channel"] = "push", ["title"] = "t", ["body"] = "b", ["audience"] = "all", ["schedule"] = "now",
        }));
        var form = new List<KeyValuePair<string, string>>
        {
            new("name", "Buttons"), new("channel", "push"), new("title", "t"), new("body", "b"), new("audience", "all"), new("schedule", "now"),
            new("buttonText", "Yes"), new("buttonAction", "open_app"), new("buttonTarget", ""),
            new("buttonText", "Later"), new("buttonAction", "dismiss"), new("buttonTarget", ""),
            new("dataKey", "a"), new("dataValue", "1"), new("dataKey", "a"), new("dataValue", "2"),
        };
        var twice = await m.PostFormPairsAsync($"{edit}/{fresh}", form);
        twice.Status.ShouldBe(HttpStatusCode.BadRequest);
        twice.Body.ShouldContain("content.data");
        form.RemoveAt(form.Count - 1); form.RemoveAt(form.Count - 1);
        SavedId(await m.PostFormPairsAsync($"{edit}/{fresh}", form));
        var two = (await app.Rest().GetJson($"/api/v1/campaigns/{fresh}")).GetProperty("definition").GetProperty("content");
        two.GetProperty("buttons").EnumerateArray().Select(b => b.GetProperty("text").GetString()).ShouldBe(["Yes", "Later"]);
        two.GetProperty("data").GetProperty("a").GetString().ShouldBe("1");
    }

    [Fact]
    public async Task Wizard_edits_a_variants_link_and_image_and_keeps_its_api_buttons_and_data()
    {
        var (app, _, m, edit) = await WizardAsync();
        var id = await app.CreateCampaignAsync(new
        {
            name = "Variant buttons", channel = "push",
            content = new { title = "Sale", body = "20% off" },
            audience = new { all = true }, schedule = new { type = "now" },
            abTest = new
            {
                testShare = 0.2,
                variants = new object[]
                {
                    new { name = "A" },
                    new { name = "B", content = new { title = "SALE", url = "shop://b", buttons = new[] { new { text = "Buy", action = "deeplink", target = "shop://buy" } }, data = new Dictionary<string, string> { ["v"] = "b" } } },
                },
            },
        });
        var page = (await m.GetAsync($"{edit}/{id}")).Body;
        page.ShouldContain("value=\"shop://b\"");
        page.ShouldContain("Kept from the API: 1 button(s), 1 data key(s).");
        var kept = System.Net.WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Matches(page, "name=\"abKept\" value=\"([^\"]*)\"")[0].Groups[1].Value);

        // The marketer changes B's link and adds an image, as the browser posts the form (two rows: B and an empty one).
        var form = new List<KeyValuePair<string, string>>
        {
            new("name", "Variant buttons"), new("channel", "push"), new("title", "Sale"), new("body", "20% off"), new("audience", "all"), new("schedule", "now"),
            new("abTest", "on"), new("abNameA", "A"), new("abShare", "20"),
            new("abName", "B"), new("abTitle", "SALE"), new("abBody", ""), new("abUrl", "shop://b2"), new("abImage", "https://cdn.example/b.png"), new("abKept", kept),
            new("abName", ""), new("abTitle", ""), new("abBody", ""), new("abUrl", ""), new("abImage", ""), new("abKept", "{}"),
        };
        SavedId(await m.PostFormPairsAsync($"{edit}/{id}", form)).ShouldBe(id);
        var b = (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("definition").GetProperty("abTest").GetProperty("variants");
        b.GetArrayLength().ShouldBe(2);
        var c = b[1].GetProperty("content");
        c.GetProperty("title").GetString().ShouldBe("SALE");
        c.GetProperty("url").GetString().ShouldBe("shop://b2");
        c.GetProperty("imageUrl").GetString().ShouldBe("https://cdn.example/b.png");
        c.GetProperty("buttons")[0].GetProperty("target").GetString().ShouldBe("shop://buy");
        c.GetProperty("data").GetProperty("v").GetString().ShouldBe("b");
    }

    [Fact]
    public async Task Wizard_saves_an_ab_test_and_shows_the_services_errors()
    {
        var (app, _, m, edit) = await WizardAsync();
        var form = new Dictionary<string, string>
        {
            ["name"] = "Subject test", ["channel"] = "push", ["title"] = "Sale", ["body"] = "20% off", ["audience"] = "all", ["schedule"] = "now",
            ["abTest"] = "on", ["abNameA"] = "Control", ["abName"] = "Bold", ["abTitle"] = "SALE NOW", ["abBody"] = "Everything 20% off today",
            ["abShare"] = "30", ["abControl"] = "10", ["abMetric"] = "conversion_rate", ["abDuration"] = "90", ["abNoWinner"] = "best_observed",
        };
        var id = SavedId(await m.PostFormAsync(edit, form));
        var ab = (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("definition").GetProperty("abTest");
        ab.GetProperty("variants").GetArrayLength().ShouldBe(2);
        ab.GetProperty("variants")[0].GetProperty("name").GetString().ShouldBe("Control");
        ab.GetProperty("variants")[1].GetProperty("name").GetString().ShouldBe("Bold");
        ab.GetProperty("variants")[1].GetProperty("content").GetProperty("title").GetString().ShouldBe("SALE NOW");
        ab.GetProperty("variants")[1].GetProperty("content").GetProperty("body").GetString().ShouldBe("Everything 20% off today");
        ab.GetProperty("testShare").GetDouble().ShouldBe(0.3, 1e-9);
        ab.GetProperty("controlShare").GetDouble().ShouldBe(0.1, 1e-9);
        ab.GetProperty("metric").GetString().ShouldBe("conversion_rate");
        ab.GetProperty("durationMinutes").GetInt32().ShouldBe(90);
        ab.GetProperty("noWinner").GetString().ShouldBe("best_observed");
        var reviewPage = (await m.GetAsync($"/panel/apps/{app.Id}/campaigns/{id}/review")).Body;
        reviewPage.ShouldContain("2 variants (Control, Bold) on 30% of the audience");
        reviewPage.ShouldContain("control group of 10% sent nothing");
        (await m.GetAsync($"{edit}/{id}")).Body.ShouldContain("value=\"SALE NOW\"");

        // The service's rules, shown by the page: one variant only, a share of 100%, a variant template that does not compile.
        foreach (var (change, field) in new[] { (("abName", ""), "abTest.variants"), (("abShare", "100"), "abTest.testShare"), (("abControl", "80"), "abTest.controlShare"), (("abTitle", "{{oops"), "abTest.variants[1].content.title") })
        {
            var bad = new Dictionary<string, string>(form) { [change.Item1] = change.Item2 };
            if (change.Item1 == "abName") { bad["abTitle"] = ""; bad["abBody"] = ""; }
            var refused = await m.PostFormAsync(edit, bad);
            refused.Status.ShouldBe(HttpStatusCode.BadRequest);
            refused.Body[refused.Body.IndexOf("class=\"flash err\"", StringComparison.Ordinal)..].ShouldContain(field);
        }

        // Sent (here to nobody: the app has no devices), the report has the lift table beside the variants.
        (await app.Rest().PostAsync($"/api/v1/campaigns/{id}/send", null, TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var report = (await m.GetAsync($"/panel/apps/{app.Id}/campaigns/{id}/report")).Body;
        report.ShouldContain("id=\"ab-lift\"");
        report.ShouldContain("Control (nothing sent)");
    }

    [Fact]
    public async Task Wizard_saves_a_push_fallback_and_review_and_report_show_it()
    {
        var (app, _, m, edit) = await WizardAsync();
        var form = new Dictionary<string, string>
        {
            ["name"] = "Order shipped", ["channel"] = "push", ["title"] = "Shipped", ["body"] = "Your order is on its way", ["audience"] = "all", ["schedule"] = "now",
            ["fallbackChannel"] = "sms", ["fallbackBody"] = "Your order is on its way", ["fallbackAfter"] = "120",
        };
        var id = SavedId(await m.PostFormAsync(edit, form));
        var fb = (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("definition").GetProperty("fallback");
        fb.GetProperty("channel").GetString().ShouldBe("sms");
        fb.GetProperty("content").GetProperty("body").GetString().ShouldBe("Your order is on its way");
        fb.GetProperty("afterSeconds").GetInt32().ShouldBe(120);
        var review = (await m.GetAsync($"/panel/apps/{app.Id}/campaigns/{id}/review")).Body;
        review.ShouldContain("id=\"fallback-summary\"");
        review.ShouldContain("within 120 s");
        (await m.GetAsync($"/panel/apps/{app.Id}/campaigns/{id}/report")).Body.ShouldContain("id=\"fallback-report\"");

        var email = SavedId(await m.PostFormAsync(edit, new Dictionary<string, string>(form)
            { ["fallbackChannel"] = "email", ["fallbackSubject"] = "Shipped", ["fallbackText"] = "On its way", ["fallbackAfter"] = "" }));
        var efb = (await app.Rest().GetJson($"/api/v1/campaigns/{email}")).GetProperty("definition").GetProperty("fallback");
        efb.GetProperty("channel").GetString().ShouldBe("email");
        efb.GetProperty("content").GetProperty("subject").GetString().ShouldBe("Shipped");
        efb.GetProperty("content").GetProperty("text").GetString().ShouldBe("On its way");
        efb.TryGetProperty("afterSeconds", out var after).ShouldBe(after.ValueKind == System.Text.Json.JsonValueKind.Null);

        var refused = await m.PostFormAsync(edit, new Dictionary<string, string>(form) { ["fallbackChannel"] = "email", ["fallbackSubject"] = "" });
        refused.Status.ShouldBe(HttpStatusCode.BadRequest);
        refused.Body.ShouldContain("fallback.content.subject is required");
        // An SMS campaign has no fallback: the section's fields are not read for it.
        var sms = SavedId(await m.PostFormAsync(edit, new Dictionary<string, string>(form) { ["channel"] = "sms", ["title"] = "" }));
        (await app.Rest().GetJson($"/api/v1/campaigns/{sms}")).GetProperty("definition").TryGetProperty("fallback", out var none)
            .ShouldBe(none.ValueKind == System.Text.Json.JsonValueKind.Null);
    }

    [Fact]
    public async Task Wizard_saves_a_trigger_and_a_recurrence_and_review_activates_for_marketers_only()
    {
        var (app, v, m, edit) = await WizardAsync();
        var form = new Dictionary<string, string>
        {
            ["name"] = "Cart reminder", ["channel"] = "push", ["title"] = "Forgot something?", ["body"] = "Your cart is waiting", ["audience"] = "all",
            ["schedule"] = "trigger", ["triggerType"] = "event", ["triggerEvent"] = "added_to_cart", ["triggerDelay"] = "30",
            ["triggerCancelEvent"] = "purchase", ["triggerInactiveDays"] = "5", ["reentry"] = "every_n_days", ["reentryDays"] = "7",
        };
        var id = SavedId(await m.PostFormAsync(edit, form));
        var view = await app.Rest().GetJson($"/api/v1/campaigns/{id}");
        var t = view.GetProperty("definition").GetProperty("trigger");
        t.GetProperty("type").GetString().ShouldBe("event");
        t.GetProperty("event").GetString().ShouldBe("added_to_cart");
        t.GetProperty("delaySeconds").GetInt32().ShouldBe(1800);
        t.GetProperty("reentry").GetString().ShouldBe("every_n_days");
        t.GetProperty("reentryDays").GetInt32().ShouldBe(7);
        t.TryGetProperty("cancelEvent", out var cancel).ShouldBe(cancel.ValueKind == System.Text.Json.JsonValueKind.Null); // not an absence trigger: not read
        view.GetProperty("definition").GetProperty("schedule").GetProperty("type").GetString().ShouldBe("now");

        var review = $"/panel/apps/{app.Id}/campaigns/{id}/review";
        var page = (await m.GetAsync(review)).Body;
        page.ShouldContain("id=\"activate\"");
        page.ShouldNotContain("id=\"send\"");
        page.ShouldContain("When event");
        (await v.GetAsync(review)).Body.ShouldNotContain("id=\"activate\"");
        (await v.PostFormAsync($"/panel/apps/{app.Id}/segments/edit", new Dictionary<string, string>(), review + "?handler=activate")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("state").GetString().ShouldBe("draft");

        var activated = await m.PostFormAsync(review, new Dictionary<string, string>(), review + "?handler=activate");
        activated.Location.ShouldBe($"/panel/apps/{app.Id}/campaigns/{id}/report");
        (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("state").GetString().ShouldBe("active");
        (await app.Rest().GetJson($"/api/v1/campaigns/{id}/automation")).GetProperty("state").GetString().ShouldBe("active");
        (await AuditAsync()).ShouldContain(e => e.AppId == app.Id && e.Action == "campaign.activate" && e.Detail!.StartsWith($"campaign {id} ", StringComparison.Ordinal));
        var report = (await v.GetAsync(activated.Location!)).Body;
        report.ShouldContain("id=\"automation\"");
        report.ShouldContain("id=\"no-runs\"");
        (await v.GetAsync($"/panel/apps/{app.Id}/campaigns")).Body.ShouldContain("state-active");
        // Activating twice: the service refuses (only a draft can be activated) and the page says so.
        var again = await m.PostFormAsync(edit, new Dictionary<string, string>(), review + "?handler=activate");
        again.Status.ShouldBe(HttpStatusCode.BadRequest);
        again.Body.ShouldContain("only a draft can be activated");

        var weekly = SavedId(await m.PostFormAsync(edit, new Dictionary<string, string>(form)
            { ["name"] = "Weekly digest", ["schedule"] = "recurring", ["recurEvery"] = "weekly", ["recurDay"] = "friday", ["recurTime"] = "18:30" }));
        var d = (await app.Rest().GetJson($"/api/v1/campaigns/{weekly}")).GetProperty("definition");
        d.GetProperty("recurrence").GetProperty("every").GetString().ShouldBe("weekly");
        d.GetProperty("recurrence").GetProperty("dayOfWeek").GetString().ShouldBe("friday");
        d.GetProperty("recurrence").GetProperty("localTime").GetString().ShouldBe("18:30");
        d.TryGetProperty("trigger", out var noTrigger).ShouldBe(noTrigger.ValueKind == System.Text.Json.JsonValueKind.Null);

        var absence = await m.PostFormAsync(edit, new Dictionary<string, string>(form) { ["triggerType"] = "absence", ["triggerCancelEvent"] = "" });
        absence.Status.ShouldBe(HttpStatusCode.BadRequest);
        absence.Body.ShouldContain("trigger.cancelEvent");
    }

    [Fact]
    public async Task Wizard_edits_a_triggers_event_filters_as_rows()
    {
        var (app, _, m, edit) = await WizardAsync();
        List<KeyValuePair<string, string>> Form(params (string Attribute, string Op, string Value)[] rows) =>
        [
            new("name", "Big spenders"), new("channel", "push"), new("title", "Thanks"), new("body", "A gift for you"), new("audience", "all"),
            new("schedule", "trigger"), new("triggerType", "event"), new("triggerEvent", "purchase"), new("triggerDelay", "0"), new("reentry", "once"),
            .. rows.SelectMany(r => new KeyValuePair<string, string>[] { new("filterAttribute", r.Attribute), new("filterOp", r.Op), new("filterValue", r.Value) }),
        ];
        var id = SavedId(await m.PostFormPairsAsync(edit, Form(("total", "gt", "100"), ("currency", "in", "TRY, EUR"), ("coupon", "notExists", "x"), ("", "eq", "a row left empty"))));
        var filters = (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("definition").GetProperty("trigger").GetProperty("filters");
        filters.GetArrayLength().ShouldBe(3);
        filters[0].GetProperty("attribute").GetString().ShouldBe("total");
        filters[0].GetProperty("value").GetDouble().ShouldBe(100); // typed: a number, not the text "100"
        filters[1].GetProperty("value").EnumerateArray().Select(v => v.GetString()).ShouldBe(["TRY", "EUR"]);
        filters[2].GetProperty("op").GetString().ShouldBe("notExists");
        filters[2].TryGetProperty("value", out _).ShouldBeFalse();

        // The edit page shows them as rows, with room for more; saving them unchanged keeps them.
        var page = (await m.GetAsync($"{edit}/{id}")).Body;
        page.ShouldContain("value=\"total\"");
        page.ShouldContain("value=\"TRY,EUR\"");
        page.ShouldContain("<option value=\"notExists\" selected");
        System.Text.RegularExpressions.Regex.Count(page, "name=\"filterAttribute\"").ShouldBe(5);
        SavedId(await m.PostFormPairsAsync($"{edit}/{id}", Form(("total", "gt", "100"), ("currency", "in", "TRY,EUR"), ("coupon", "notExists", ""))));
        (await app.Rest().GetJson($"/api/v1/campaigns/{id}")).GetProperty("definition").GetProperty("trigger").GetProperty("filters").ToString()
            .ShouldBe(filters.ToString());

        // A value the operator cannot take is refused, naming the row.
        var bad = await m.PostFormPairsAsync($"{edit}/{id}", Form(("total", "gt", "100"), ("last_seen", "withinLastDays", "soon")));
        bad.Status.ShouldBe(HttpStatusCode.BadRequest);
        bad.Body.ShouldContain("trigger.filters[1].value");
    }
}

[Collection(SqliteCollection.Name)]
public sealed class PanelPagesTestsSqlite(SqliteHost host) : PanelPagesTests(host);

[Collection(PostgresCollection.Name)]
public sealed class PanelPagesTestsPostgres(PostgresHost host) : PanelPagesTests(host);
