using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Herald.E2E.Support.SdkSite;

namespace Herald.E2E;

[Collection(E2ECollection.Name)]
public sealed class WebSdkTests(E2EHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Checking_the_location_reports_entering_and_leaving_a_geofence_and_keeps_the_position()
    {
        await using var site = await StartAsync(host);
        using (var g = await site.Rest.PostAsJsonAsync("/api/v1/geofences/groups", new { name = "Stores" }, Ct))
        {
            var group = (await g.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
            (await site.Rest.PostAsJsonAsync("/api/v1/geofences", new { name = "Kadıköy store", groupId = group, circle = new { latitude = 40.9903, longitude = 29.0230, radius = 200 } }, Ct))
                .EnsureSuccessStatusCode();
        }
        await site.Context.GrantPermissionsAsync(["geolocation"], new() { Origin = site.Origin });
        await site.Context.SetGeolocationAsync(new() { Latitude = 40.9905f, Longitude = 29.0232f });
        var page = await site.OpenAsync("home");
        var installationId = await InstallationIdAsync(page);

        var inside = await page.EvaluateAsync<JsonElement>("() => herald.checkLocation()");
        inside.GetProperty("inside").GetArrayLength().ShouldBe(1, inside.ToString());
        (await page.EvaluateAsync<JsonElement>("() => herald.checkLocation()")).GetProperty("inside").GetArrayLength().ShouldBe(1); // still inside: no second enter
        await site.Context.SetGeolocationAsync(new() { Latitude = 41.0766f, Longitude = 29.0136f });
        (await page.EvaluateAsync<JsonElement>("() => herald.checkLocation()")).GetProperty("inside").GetArrayLength().ShouldBe(0);

        var events = await site.DeviceEventsAsync(installationId, "geofence_enter", "geofence_exit");
        var enter = Named(events, "geofence_enter").Single().GetProperty("attributes");
        enter.GetProperty("geofence_name").GetString().ShouldBe("Kadıköy store");
        Named(events, "geofence_exit").Single().GetProperty("attributes").GetProperty("geofence_id").GetInt64().ShouldBe(enter.GetProperty("geofence_id").GetInt64());
        var device = await site.Rest.GetFromJsonAsync<JsonElement>($"/api/v1/devices/{installationId}", Ct);
        device.GetProperty("latitude").GetDouble().ShouldBe(41.0766, 0.0001);
        // The fence state follows the stored events once the post-commit observers have seen them.
        await host.Services.GetRequiredService<Herald.Server.Ingest.ObserverPump>().CaughtUpAsync(Ct);
        var fence = (await site.Rest.GetFromJsonAsync<JsonElement>("/api/v1/geofences", Ct))[0];
        fence.GetProperty("devicesInside").GetInt64().ShouldBe(0); // it left again
    }

    [Fact]
    public async Task Anonymous_visits_land_with_the_browser_id_which_survives_a_reload_and_keep_their_utm()
    {
        await using var site = await StartAsync(host);
        var page = await site.OpenAsync("home?utm_source=newsletter&utm_medium=email&utm_campaign=spring");
        var anonymousId = await page.EvaluateAsync<string>("() => herald.anonymousId");
        var installationId = await InstallationIdAsync(page);
        await page.EvaluateAsync("() => herald.track('search', { query: 'kırmızı ayakkabı' })");

        await page.ReloadAsync();
        await page.EvaluateAsync("() => herald.ready()");
        (await page.EvaluateAsync<string>("() => herald.anonymousId")).ShouldBe(anonymousId);
        (await InstallationIdAsync(page)).ShouldBe(installationId);
        (await page.EvaluateAsync<string?>("() => document.cookie")).ShouldBeNullOrEmpty();

        var events = await site.EventsAsync($"/api/v1/devices/{installationId}/events",
            e => Named(e, "page_view").Count() == 2 && Named(e, "search").Any());
        Named(events, "first_visit").Count().ShouldBe(1);
        Named(events, "web_open").Count().ShouldBe(1); // one session across the reload
        Named(events, "search").Single().GetProperty("attributes").GetProperty("query").GetString().ShouldBe("kırmızı ayakkabı");
        foreach (var view in Named(events, "page_view"))
        {
            view.GetProperty("utmSource").GetString().ShouldBe("newsletter");
            view.GetProperty("utmCampaign").GetString().ShouldBe("spring");
            view.GetProperty("attributes").GetProperty("path").GetString().ShouldBe("/site/home");
        }
        var device = await site.Rest.GetFromJsonAsync<JsonElement>($"/api/v1/devices/{installationId}", Ct);
        device.GetProperty("anonymousId").GetString().ShouldBe(anonymousId);
        device.GetProperty("platform").GetString().ShouldBe("web");
    }

    [Fact]
    public async Task Identify_merges_the_anonymous_history_and_reset_starts_a_new_visitor()
    {
        await using var site = await StartAsync(host);
        var page = await site.OpenAsync("products");
        var before = await page.EvaluateAsync<string>("() => herald.anonymousId");
        await page.EvaluateAsync("() => herald.track('viewed_product', { sku: 'A-1' })");
        await page.EvaluateAsync("() => herald.identify('u-web-1', { email: 'ayse@example.com', plan: 'gold' })");
        await page.EvaluateAsync("() => herald.track('added_to_cart', { sku: 'A-1' })");

        var events = await site.EventsAsync("/api/v1/users/u-web-1/events", e => Named(e, "added_to_cart").Any() && Named(e, "viewed_product").Any());
        Named(events, "page_view").ShouldNotBeEmpty(); // the anonymous history is the user's now
        var user = await site.Rest.GetFromJsonAsync<JsonElement>("/api/v1/users/u-web-1", Ct);
        user.GetProperty("email").GetString().ShouldBe("ayse@example.com");
        user.GetProperty("attributes").GetProperty("plan").GetString().ShouldBe("gold");

        await page.EvaluateAsync("() => herald.reset()");
        var after = await page.EvaluateAsync<string>("() => herald.anonymousId");
        after.ShouldNotBe(before);
        await page.EvaluateAsync("() => herald.track('after_logout', {})");
        var newDevice = await InstallationIdAsync(page);
        await site.DeviceEventsAsync(newDevice, "after_logout");
        var device = await site.Rest.GetFromJsonAsync<JsonElement>($"/api/v1/devices/{newDevice}", Ct);
        device.GetProperty("externalId").ValueKind.ShouldBe(JsonValueKind.Null);
    }

    [Fact]
    public async Task Offline_events_arrive_later_once_with_their_original_times()
    {
        await using var site = await StartAsync(host);
        var page = await site.Context.NewPageAsync();
        await page.Clock.InstallAsync();
        await site.OpenAsync("catalog", page);
        var installationId = await InstallationIdAsync(page);

        await site.Context.SetOfflineAsync(true);
        var madeAt = await page.EvaluateAsync<long>("""
            () => { const t = Date.now(); herald.track('offline_search', { query: 'a' }); herald.track('offline_search', { query: 'b' }); herald.track('offline_search', { query: 'c' }); return t; }
            """);
        await page.WaitForFunctionAsync("() => herald.queued >= 3");
        // Ten minutes pass on the device before it is back online.
        await page.Clock.FastForwardAsync("10:00");

        // The first batch reaches Herald but its answer is lost: the SDK must retry, and Herald must not store it twice.
        var lost = 0;
        await site.Context.RouteAsync("**/sdk/v1/events", async route =>
        {
            if (Interlocked.Increment(ref lost) == 1)
            {
                await route.FetchAsync();
                await route.AbortAsync("connectionreset");
            }
            else await route.ContinueAsync();
        });
        await site.Context.SetOfflineAsync(false);

        var events = await site.EventsAsync($"/api/v1/devices/{installationId}/events", e => Named(e, "offline_search").Count() >= 3 && lost >= 2);
        var searches = Named(events, "offline_search").ToList();
        searches.Count.ShouldBe(3);
        searches.Select(e => e.GetProperty("attributes").GetProperty("query").GetString()).Order().ShouldBe(["a", "b", "c"]);
        foreach (var e in searches)
        {
            // Skew-corrected: the device clock said ten minutes passed since the event, so it happened ten minutes before it arrived.
            var age = e.GetProperty("receivedAt").GetInt64() - e.GetProperty("occurredAt").GetInt64();
            age.ShouldBeGreaterThan(9 * 60_000, $"made at {madeAt} (device clock)");
        }
        await page.WaitForFunctionAsync("() => herald.queued === 0");
    }

    [Fact]
    public async Task Widgets_show_on_matching_pages_only_as_overlays_and_report_their_actions()
    {
        await using var site = await StartAsync(host);
        // A real 1×1 PNG, uploaded as an asset; and an oversize one refused with the limit.
        var png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==");
        using var upload = await site.Rest.PostAsync("/api/v1/widgets/assets", new ByteArrayContent(png), Ct);
        upload.StatusCode.ShouldBe(HttpStatusCode.Created);
        var image = (await upload.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("key").GetString();
        var big = new byte[1024 * 1024 + 10];
        png.CopyTo(big, 0);
        using (var refused = await site.Rest.PostAsync("/api/v1/widgets/assets", new ByteArrayContent(big), Ct))
        {
            refused.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
            (await refused.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("limit").GetInt32().ShouldBe(1024 * 1024);
        }

        using var created = await site.Rest.PostAsJsonAsync("/api/v1/widgets", new
        {
            name = "Shoe sale",
            layout = new
            {
                title = "Shoes: 30% off", text = "This weekend only.", imageAsset = image,
                buttons = new object[] { new { text = "See the sale", action = "url", target = site.Url("sale") }, new { text = "No thanks", action = "dismiss" } },
                colors = new { background = "#fff8e1", text = "#3e2723", button = "#d84315", buttonText = "#ffffff" },
                position = "bottom-right",
            },
            rules = new { urlPattern = "/site/shoes/*", frequency = "always" },
        }, Ct);
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var widgetId = (await created.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();

        var other = await site.OpenAsync("blog/news");
        (await other.Locator("[role=dialog]").CountAsync()).ShouldBe(0);

        var page = await site.OpenAsync("shoes/running");
        var contentTop = await page.EvaluateAsync<double>("() => document.getElementById('content').getBoundingClientRect().top");
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Shoes: 30% off" });
        await dialog.WaitForAsync();
        (await dialog.EvaluateAsync<string>("d => getComputedStyle(d).position")).ShouldBe("fixed");
        (await page.EvaluateAsync<bool>("() => document.getElementById('herald-widget-" + widgetId + "').contains(document.activeElement)")).ShouldBeTrue();
        (await page.EvaluateAsync<double>("() => document.getElementById('content').getBoundingClientRect().top")).ShouldBe(contentTop);
        await site.ScreenshotAsync(page, "widget-on-matching-page");

        // Escape closes it (reported as a close), and it comes back on the next matching page.
        await page.Keyboard.PressAsync("Escape");
        await dialog.WaitForAsync(new() { State = WaitForSelectorState.Detached });
        await page.GotoAsync(site.Url("shoes/trail"));
        await page.GetByRole(AriaRole.Button, new() { Name = "See the sale" }).ClickAsync();
        await page.ArrivedAsync(site.Url("sale"));

        var installationId = await InstallationIdAsync(page);
        var events = await site.EventsAsync($"/api/v1/devices/{installationId}/events",
            e => Named(e, "widget_shown").Count() >= 2 && Named(e, "widget_action").Count() >= 2);
        Named(events, "widget_shown").All(e => e.GetProperty("attributes").GetProperty("url").GetString()!.Contains("/site/shoes/", StringComparison.Ordinal)).ShouldBeTrue();
        var actions = Named(events, "widget_action").Select(e => e.GetProperty("attributes")).ToList();
        actions.ShouldContain(a => a.GetProperty("action").GetString() == "close" && a.GetProperty("how").GetString() == "escape");
        actions.ShouldContain(a => a.GetProperty("action").GetString() == "url" && a.GetProperty("widget_id").GetInt64() == widgetId);
    }
}
