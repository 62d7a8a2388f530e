using System.Net.Http.Json;
using Herald.Server.Accounts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Herald.E2E;

/// <summary>The panel in Chromium: sign-in rules, the segment builder's live size, role refusal. Screenshots go to the artifacts.</summary>
[Collection(E2ECollection.Name)]
public sealed class PanelTests(E2EHost host)
{
    private const string Password = PanelDriver.Password;
    private readonly PanelDriver _panel = new(host);
    private AccountService Accounts => _panel.Accounts;
    private Task<PanelUser> OwnerAsync() => _panel.OwnerAsync();
    private Task<IPage> PageAsync() => _panel.PageAsync();
    private static Task LoginAsync(IPage page, string email, string password) => PanelDriver.LoginAsync(page, email, password);
    private static Task ShotAsync(IPage page, string name) => PanelDriver.ShotAsync(page, name);

    [Fact]
    public async Task Owner_signs_in_and_sees_the_app_switcher()
    {
        var owner = await OwnerAsync();
        var app = await host.NewAppAsync();
        var page = await PageAsync();
        await page.GotoAsync("/panel");
        page.Url.ShouldContain("/panel/login");
        await ShotAsync(page, "login");
        await LoginAsync(page, owner.Email, Password);
        await page.ArrivedAsync("**/panel");
        (await page.TextContentAsync("body"))!.ShouldContain(owner.Email);
        (await page.Locator(".app-card").CountAsync()).ShouldBeGreaterThan(0);
        await ShotAsync(page, "apps");
        await page.GotoAsync($"/panel/apps/{app.Id}/segments");
        (await page.TextContentAsync("h1"))!.ShouldBe("Segments");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_marketer_designs_a_widget_and_deletes_it_after_confirming()
    {
        var app = await host.NewAppAsync();
        var owner = await OwnerAsync();
        var marketer = await _panel.MemberAsync(app.Id, Roles.Marketer, owner);
        var page = await _panel.SignedInAsync(marketer);
        await page.GotoAsync($"/panel/apps/{app.Id}/widgets");
        await page.ClickAsync("text=+ New widget");
        await page.FillAsync("input[name=name]", "Winter sale");
        await page.FillAsync("input[name=title]", "20% off everything");
        await page.FillAsync("textarea[name=text]", "Only until Sunday.");
        await page.Locator("input[name=buttonText]").First.FillAsync("Shop now");
        await page.Locator("input[name=buttonTarget]").First.FillAsync("https://shop.example/sale");
        await page.FillAsync("input[name=urlPattern]", "/cart*");
        await page.SelectOptionAsync("select[name=frequency]", "once");
        await PanelDriver.ShotAsync(page, "widget-editor");
        await page.ClickAsync("button[type=submit].primary");
        await page.ArrivedAsync($"**/panel/apps/{app.Id}/widgets");
        await Assertions.Expect(page.Locator("#widgets")).ToContainTextAsync("Winter sale");
        await Assertions.Expect(page.Locator("#widgets")).ToContainTextAsync("once");

        await page.ClickAsync("#widgets a");
        await page.ClickAsync("#delete"); // confirm.js asks; the driver accepts
        await page.ArrivedAsync($"**/panel/apps/{app.Id}/widgets");
        await Assertions.Expect(page.Locator(".empty")).ToContainTextAsync("No widgets yet.");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_marketer_draws_geofences_whose_shape_fields_follow_the_choice_and_sees_them_on_the_map()
    {
        var app = await host.NewAppAsync();
        var owner = await OwnerAsync();
        var marketer = await _panel.MemberAsync(app.Id, Roles.Marketer, owner);
        var page = await _panel.SignedInAsync(marketer);
        await page.GotoAsync($"/panel/apps/{app.Id}/geofences");
        await page.FillAsync("input[name=groupName]", "Stores");
        await page.ClickAsync("#new-group button");
        await Assertions.Expect(page.Locator("#geofence-groups")).ToContainTextAsync("Stores");

        // Only the chosen shape's fields show (and are sent).
        await Assertions.Expect(page.Locator("fieldset[data-shape=circle]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("fieldset[data-shape=polygon]")).ToBeHiddenAsync();
        await page.FillAsync("#geofence-form input[name=name]", "Pier");
        await page.FillAsync("input[name=latitude]", "40.9903");
        await page.FillAsync("input[name=longitude]", "29.0230");
        await page.FillAsync("input[name=radius]", "250");
        await page.ClickAsync("#save-geofence");
        await Assertions.Expect(page.Locator("#geofences")).ToContainTextAsync("Pier");

        await page.FillAsync("#geofence-form input[name=name]", "Yoğurtçu park");
        await page.SelectOptionAsync("#geofence-shape", "polygon");
        await Assertions.Expect(page.Locator("fieldset[data-shape=circle]")).ToBeHiddenAsync();
        await page.FillAsync("textarea[name=points]", "40.9830, 29.0330\n40.9850, 29.0380\n40.9820, 29.0400\n40.9805, 29.0350");
        await page.ClickAsync("#save-geofence");
        await Assertions.Expect(page.Locator("#geofences")).ToContainTextAsync("Yoğurtçu park");
        await Assertions.Expect(page.Locator("#geofence-map polygon")).ToHaveCountAsync(2);
        await Assertions.Expect(page.Locator("#geofence-map")).ToContainTextAsync("Pier");
        await PanelDriver.ShotAsync(page, "geofences");
        var fences = await host.Client(app.RestKey).GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/geofences", TestContext.Current.CancellationToken);
        fences.EnumerateArray().Select(f => f.GetProperty("shape").GetString()).Order().ShouldBe(["circle", "polygon"]);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_marketer_trains_the_churn_model_and_targets_the_likeliest_half_in_the_segment_builder()
    {
        var app = await host.NewAppAsync();
        using var sdk = host.Client(app.SdkKey);
        var ct = TestContext.Current.CancellationToken;
        // 60 people visiting every few days and still visiting, 60 who came twice six weeks ago.
        var now = host.Clock.GetUtcNow();
        for (var i = 0; i < 120; i++)
        {
            using var reg = await sdk.PostAsJsonAsync("/sdk/v1/devices", new { platform = "android", pushToken = $"t-{i}", pushEnabled = true }, ct);
            var id = (await reg.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(ct)).GetProperty("installationId").GetString();
            int[] daysAgo = i % 2 == 0 ? [36, 32, 28, 24, 21, 18, 15, 10, 5, 1] : [41, 39];
            var events = daysAgo.Select(d => new { messageId = Guid.NewGuid().ToString(), name = "app_open", timestamp = now.AddDays(-d) }).ToArray();
            (await sdk.PostAsJsonAsync("/sdk/v1/events", new { installationId = id, events }, ct)).EnsureSuccessStatusCode();
        }
        var owner = await OwnerAsync();
        var page = await _panel.SignedInAsync(await _panel.MemberAsync(app.Id, Roles.Marketer, owner));
        await page.GotoAsync($"/panel/apps/{app.Id}/predictions");
        await page.Locator("#model-churn button").ClickAsync();
        await Assertions.Expect(page.Locator("#model-churn")).ToContainTextAsync("AUC on");
        await Assertions.Expect(page.Locator("#model-churn svg.weights rect")).ToHaveCountAsync(9);
        await ShotAsync(page, "predictions");

        await page.GotoAsync($"/panel/apps/{app.Id}/segments/edit");
        await page.ClickAsync("#add-clause");
        var row = page.Locator("#clauses .clause").Last;
        await row.Locator("select[aria-label='Condition type']").SelectOptionAsync("predicted");
        await row.Locator("input.field").FillAsync("churn");
        await row.Locator("select[aria-label='Operator']").SelectOptionAsync("top");
        await row.Locator("input.value").FillAsync("50");
        await Assertions.Expect(page.Locator("#preview-size")).ToHaveTextAsync("60");
        await ShotAsync(page, "segment-predicted");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task An_expired_password_must_be_changed_at_sign_in()
    {
        var owner = await OwnerAsync();
        var start = host.Clock.GetUtcNow();
        try
        {
            // A 10-day password lifetime for this member (the per-user setting); 11 days later it has expired.
            await Accounts.SetUserExpiryAsync(owner, null, owner.Id, 10, "test", TestContext.Current.CancellationToken);
            host.Clock.Advance(TimeSpan.FromDays(11));
            var page = await PageAsync();
            await LoginAsync(page, owner.Email, Password);
            await page.ArrivedAsync("**/panel/password");
            (await page.TextContentAsync("#password-reason"))!.ShouldContain("expired");
            await ShotAsync(page, "password-expired");
            await page.GotoAsync("/panel");
            page.Url.ShouldEndWith("/panel/password"); // nothing else until it is changed
            await page.FillAsync("input[name=current]", Password);
            await page.FillAsync("input[name=next]", "Spring-Fresh-2027!");
            await page.FillAsync("input[name=repeat]", "Spring-Fresh-2027!");
            await page.ClickAsync("button[type=submit]");
            await page.ArrivedAsync("**/panel");
            (await page.TextContentAsync("h1"))!.ShouldBe("Your apps");
            await page.Context.CloseAsync();
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task An_idle_session_ends_after_30_minutes()
    {
        var owner = await OwnerAsync();
        var start = host.Clock.GetUtcNow();
        try
        {
            var page = await PageAsync();
            await LoginAsync(page, owner.Email, Password);
            await page.ArrivedAsync("**/panel");
            host.Clock.Advance(TimeSpan.FromMinutes(20));
            await page.ReloadAsync();
            page.Url.ShouldEndWith("/panel");
            host.Clock.Advance(TimeSpan.FromMinutes(31));
            await page.ReloadAsync();
            page.Url.ShouldContain("/panel/login");
            (await page.TextContentAsync("body"))!.ShouldContain("Sign in");
            await page.Context.CloseAsync();
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task Five_wrong_passwords_lock_the_account()
    {
        var owner = await OwnerAsync();
        var page = await PageAsync();
        for (var i = 0; i < 5; i++) await LoginAsync(page, owner.Email, $"Wrong-Password-{i}");
        (await page.TextContentAsync("#login-error"))!.ShouldContain("locked until");
        await LoginAsync(page, owner.Email, Password);
        (await page.TextContentAsync("#login-error"))!.ShouldContain("locked until");
        await ShotAsync(page, "locked");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_marketer_builds_a_segment_and_sees_its_size_and_a_viewer_cannot_save()
    {
        var owner = await OwnerAsync();
        var app = await host.NewAppAsync();
        using (var sdk = host.Client(app.SdkKey))
        {
            foreach (var platform in new[] { "ios", "ios", "ios", "android", "android" })
                (await sdk.PostAsJsonAsync("/sdk/v1/devices", new { platform, pushEnabled = true }, TestContext.Current.CancellationToken)).EnsureSuccessStatusCode();
        }
        var marketer = await _panel.MemberAsync(app.Id, Roles.Marketer, owner);
        var page = await PageAsync();
        await LoginAsync(page, marketer.Email, Password);
        await page.ArrivedAsync("**/panel");
        await page.GotoAsync($"/panel/apps/{app.Id}/segments");
        (await page.TextContentAsync(".empty"))!.ShouldContain("No segments yet");
        await ShotAsync(page, "segments-empty");
        await page.ClickAsync("text=+ New segment");
        await page.FillAsync("input[name=name]", "iPhone users");
        await page.SelectOptionAsync(".clause select >> nth=0", "device");
        await page.FillAsync(".clause input.field", "platform");
        await page.FillAsync(".clause input.value", "ios");
        await Assertions.Expect(page.Locator("#preview-size")).ToHaveTextAsync("3");
        await ShotAsync(page, "segment-builder");
        await page.ClickAsync("button[type=submit].primary");
        await page.ArrivedAsync($"**/panel/apps/{app.Id}/segments");
        (await page.TextContentAsync("#segments td.size"))!.Trim().ShouldBe("3");
        await ShotAsync(page, "segments");
        await page.Context.CloseAsync();

        var viewer = await _panel.MemberAsync(app.Id, Roles.Viewer, owner);
        var v = await PageAsync();
        await LoginAsync(v, viewer.Email, Password);
        await v.ArrivedAsync("**/panel");
        await v.GotoAsync($"/panel/apps/{app.Id}/segments");
        await v.ClickAsync("text=iPhone users");
        (await v.Locator("button[type=submit].primary").CountAsync()).ShouldBe(0); // no save button for viewers
        // Even a crafted submit is refused by the server.
        var response = await v.EvaluateAsync<int>("""
            async () => {
              const f = document.getElementById('segment-form');
              const r = await fetch(location.href, { method: 'POST', body: new FormData(f), credentials: 'same-origin' });
              return r.status;
            }
            """);
        response.ShouldBe(403);
        await v.Context.CloseAsync();
    }

    [Fact]
    public async Task An_owner_walks_every_page_and_sends_a_campaign_to_a_registered_device()
    {
        var ct = TestContext.Current.CancellationToken;
        var owner = await OwnerAsync();
        var app = await host.NewAppAsync();
        string device;
        using (var sdk = host.Client(app.SdkKey))
        {
            var res = await sdk.PostAsJsonAsync("/sdk/v1/devices", new { platform = "android", pushToken = "fcm-e2e-token", pushEnabled = true, timezone = "Europe/Istanbul", locale = "en-US" }, ct);
            res.EnsureSuccessStatusCode();
            device = (await res.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(ct)).GetProperty("installationId").GetString()!;
            (await sdk.PostAsJsonAsync("/sdk/v1/identify", new { installationId = device, externalId = "e2e-user", email = "e2e@example.com", attributes = new { first_name = "Deniz", city = "Izmir" } }, ct)).EnsureSuccessStatusCode();
            var now = host.Clock.GetUtcNow();
            var events = Enumerable.Range(0, 14).SelectMany(d => Enumerable.Range(0, 1 + (d * 7 % 5)).Select(k => new
            {
                messageId = $"e2e-{d}-{k}", name = k % 3 == 2 ? "Bought" : "Viewed Product", timestamp = now.AddDays(-d).AddMinutes(-k).ToUnixTimeMilliseconds(),
            })).ToList();
            (await sdk.PostAsJsonAsync("/sdk/v1/events", new { installationId = device, events }, ct)).EnsureSuccessStatusCode();
        }
        await host.ConnectPushAsync(app.RestKey);
        var page = await _panel.SignedInAsync(owner);
        var root = $"/panel/apps/{app.Id}";

        await page.GotoAsync($"{root}/settings");
        await page.FillAsync("#general input[name=maxPerDay]", "4");
        await page.ClickAsync("#general button[type=submit]");
        (await page.TextContentAsync(".flash.ok"))!.ShouldContain("Settings saved.");
        await page.SelectOptionAsync("#create-key select[name=kind]", "rest");
        await page.FillAsync("#create-key input[name=keyName]", "E2E backend");
        await page.ClickAsync("#create-key button[type=submit]");
        (await page.TextContentAsync("#new-key code"))!.ShouldStartWith("hrk_");
        await ShotAsync(page, "settings");

        await page.GotoAsync($"{root}/users?q=e2e%40example.com");
        (await page.TextContentAsync("#devices"))!.ShouldContain(device);

        await page.GotoAsync($"{root}/analytics?event=Viewed+Product");
        await Assertions.Expect(page.Locator("#trend-chart")).ToBeVisibleAsync();
        await ShotAsync(page, "analytics-trend");
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#trend-csv"));
        download.SuggestedFilename.ShouldEndWith(".csv");
        var csv = await File.ReadAllTextAsync((await download.PathAsync())!, ct);
        csv.TrimStart('\uFEFF').ShouldStartWith("day_start,events,unique_devices,unique_users,revenue");
        await page.GotoAsync($"{root}/analytics/funnel?step=Viewed+Product&step=Bought");
        await Assertions.Expect(page.Locator("#funnel-chart")).ToBeVisibleAsync();
        await ShotAsync(page, "analytics-funnel");
        await page.GotoAsync($"{root}/analytics/retention?cohortEvent=Viewed+Product&returnEvent=Viewed+Product");
        await Assertions.Expect(page.Locator("#retention-table")).ToBeVisibleAsync();
        await ShotAsync(page, "analytics-retention");

        await page.GotoAsync($"{root}/team");
        await page.FillAsync("#invite input[name=email]", "teammate@example.com");
        await page.ClickAsync("#invite button[type=submit]");
        (await page.TextContentAsync("#invite-link"))!.ShouldContain("/panel/invite/");
        await ShotAsync(page, "team");
        await page.GotoAsync($"{root}/audit");
        (await page.TextContentAsync("#audit"))!.ShouldContain("member.invite");
        await ShotAsync(page, "audit");

        await page.GotoAsync($"{root}/campaigns");
        await ShotAsync(page, "campaigns-empty");
        await page.ClickAsync("text=+ New campaign");
        await page.FillAsync("input[name=name]", "E2E welcome");
        // The phone beside the fields shows what is typed at once…
        await page.FillAsync("input[name=title]", "Hello {{first_name}}");
        await page.FillAsync("#step-what textarea[name=body]", "Your {{city}} deals are here");
        await Assertions.Expect(page.Locator("#live-preview [data-preview=title]")).ToHaveTextAsync("Hello {{first_name}}");
        // …and, for a chosen user, the server's rendering of the unsaved form with their profile.
        await page.FillAsync("#preview-for", "e2e-user");
        await Assertions.Expect(page.Locator("#live-preview [data-preview=title]")).ToHaveTextAsync("Hello Deniz");
        await Assertions.Expect(page.Locator("#live-preview [data-preview=body]")).ToHaveTextAsync("Your Izmir deals are here");
        await Assertions.Expect(page.Locator("#preview-note")).ToContainTextAsync("As e2e-user will see it");
        // A Turkish variant: the device speaks en-US, so the preview stays English.
        await page.ClickAsync("#languages summary");
        await page.FillAsync(".locale-row >> nth=0 >> input[name=localeCode]", "tr");
        await page.FillAsync(".locale-row >> nth=0 >> input[name=localeTitle]", "Merhaba {{first_name}}");
        await page.CheckAsync("input[name=audience][value=users]");
        await page.FillAsync("textarea[name=users]", "e2e-user");
        await Assertions.Expect(page.Locator("#wizard-audience")).ToHaveTextAsync("1");
        await Assertions.Expect(page.Locator("#live-preview [data-preview=title]")).ToHaveTextAsync("Hello Deniz");
        await ShotAsync(page, "campaign-wizard");
        await page.ClickAsync("button[type=submit].primary");
        await page.ArrivedAsync("**/review");
        await page.FillAsync("input[name=previewFor]", "e2e-user");
        await page.ClickAsync("#preview button[type=submit]");
        (await page.TextContentAsync("#device-preview"))!.ShouldContain("Hello Deniz");
        (await page.TextContentAsync("#audience-size"))!.Trim().ShouldBe("1");
        await ShotAsync(page, "campaign-review");
        await page.ClickAsync("#send");
        await page.ArrivedAsync("**/report");
        await Assertions.Expect(page.Locator("[data-key=targeted]")).ToHaveTextAsync("1");
        // Sent through the loopback FCM server; the page polls and reloads when the send is done.
        await Assertions.Expect(page.Locator("[data-key=sent]")).ToHaveTextAsync("1", new() { Timeout = 15_000 });
        await Assertions.Expect(page.Locator("[data-key=state]")).ToHaveTextAsync("sent", new() { Timeout = 15_000 });
        host.Providers.Fcm.Received.ShouldContain(r => r.Token == "fcm-e2e-token" && r.Title == "Hello Deniz");
        await page.GotoAsync($"{root}/campaigns");
        await ShotAsync(page, "campaigns");

        // The user's page lists the message received.
        await page.GotoAsync($"{root}/users?q=e2e-user");
        (await page.TextContentAsync("#messages"))!.ShouldContain("E2E welcome");
        await ShotAsync(page, "users");
        await page.Context.CloseAsync();
    }
}
