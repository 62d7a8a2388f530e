using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Server.Accounts;
using Herald.Sim.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Herald.E2E;

/// <summary>
/// Campaigns in Chromium against simulated phones: the loopback FCM and APNs servers take the
/// pushes, the device simulator shows them, reports opens and obeys recalls; the report page's
/// numbers follow. A viewer is refused a send.
/// </summary>
[Collection(E2ECollection.Name)]
public sealed class CampaignTests(E2EHost host)
{
    private readonly PanelDriver _panel = new(host);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ILocatorAssertions Expect(ILocator l) => Assertions.Expect(l);

    private static async Task<int> NumberAsync(IPage page, string key) =>
        int.Parse((await page.TextContentAsync($"#report [data-key={key}]"))!.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);

    /// <summary>An app with push credentials and <paramref name="devices"/> simulated devices (half iOS, half Android unless told).</summary>
    private async Task<((long Id, string SdkKey, string RestKey) App, DeviceSimulator Sim)> PhonesAsync(int devices, SimOptions? options = null)
    {
        var app = await host.NewAppAsync();
        await host.ConnectPushAsync(app.RestKey);
        var sim = new DeviceSimulator(host.Client(app.SdkKey), host.Providers,
            (options ?? new SimOptions { IosShare = 0.5, AndroidShare = 0.5 }) with { Devices = devices, Concurrency = 4, IdentifiedShare = 1 }, host.Clock);
        await sim.RegisterAsync("no-web-devices", ct: Ct);
        return (app, sim);
    }

    private async Task<long> DraftAsync(string restKey, object definition)
    {
        using var rest = host.Client(restKey);
        using var res = await rest.PostAsJsonAsync("/api/v1/campaigns", definition, Ct);
        res.EnsureSuccessStatusCode();
        return (await res.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
    }

    [Fact]
    public async Task A_marketer_sends_to_simulated_phones_sees_opens_arrive_and_recalls_the_campaign()
    {
        var (app, sim) = await PhonesAsync(12, new SimOptions { Seed = 5, IosShare = 0.5, AndroidShare = 0.5, Reactions = ReactionRates.Immediate(openRate: 0.5, dismissRate: 0) });
        var owner = await _panel.OwnerAsync();
        var marketer = await _panel.MemberAsync(app.Id, Roles.Marketer, owner);
        var page = await _panel.SignedInAsync(marketer, reason: "Wrong discount code");
        var root = $"/panel/apps/{app.Id}";

        await page.GotoAsync($"{root}/campaigns/edit");
        await page.FillAsync("input[name=name]", "Flash sale");
        await page.FillAsync("input[name=title]", "20% off today only");
        await page.FillAsync("#step-what textarea[name=body]", "Use code FLASH20 at checkout");
        await Expect(page.Locator("#live-preview [data-preview=body]")).ToHaveTextAsync("Use code FLASH20 at checkout");
        await Expect(page.Locator("#wizard-audience")).ToHaveTextAsync("12");
        await page.ClickAsync("#buttons-data summary");
        await Expect(page.Locator("input[name=buttonText]").First).ToBeVisibleAsync();
        await PanelDriver.ShotAsync(page, "campaign-wizard");
        await page.ClickAsync("button[type=submit].primary");
        await page.ArrivedAsync("**/review");
        (await page.TextContentAsync("#audience-size"))!.Trim().ShouldBe("12");
        await page.ClickAsync("#send");
        await page.ArrivedAsync("**/report");

        // The report page polls the ledger: the count rises to 12 and the state turns to sent.
        await Expect(page.Locator("#report [data-key=sent]")).ToHaveTextAsync("12", new() { Timeout = 20_000 });
        await Expect(page.Locator("[data-key=state]")).ToHaveTextAsync("sent", new() { Timeout = 10_000 });
        (host.Providers.Fcm.Received.Count(r => r.Title == "20% off today only") + host.Providers.Apns.Received.Count(r => r.Title == "20% off today only")).ShouldBe(12);

        // The phones show it; about half open it, and the opens come back through the SDK API.
        sim.Pump().ShouldBeGreaterThanOrEqualTo(12);
        await sim.FlushAsync();
        sim.Stats.Displayed.ShouldBe(12);
        var stillShown = sim.Devices.Count(d => d.Displayed.Count > 0);
        stillShown.ShouldBeInRange(1, 11);
        await Expect(page.Locator("#report [data-key=opened]")).ToHaveTextAsync((12 - stillShown).ToString(CultureInfo.InvariantCulture), new() { Timeout = 20_000 });
        await PanelDriver.ShotAsync(page, "campaign-report");

        // Recall (confirmation and a reason): every phone it reached gets the silent command.
        await page.ClickAsync("#recall");
        await Expect(page.Locator(".flash.ok")).ToContainTextAsync("not guaranteed");
        await Expect(page.Locator("#report [data-key=recalled]")).ToHaveTextAsync("12");
        await Expect(page.Locator("[data-key=state]")).ToHaveTextAsync("recalled");
        (await page.TextContentAsync("#history"))!.ShouldContain("Wrong discount code");
        await PanelDriver.ShotAsync(page, "campaign-recalled");
        sim.Pump();
        sim.Stats.Recalled.ShouldBe(stillShown);
        sim.Devices.ShouldAllBe(d => d.Displayed.Count == 0);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_marketer_builds_an_abandoned_cart_trigger_with_an_event_filter_in_the_wizard()
    {
        var app = await host.NewAppAsync();
        var owner = await _panel.OwnerAsync();
        var marketer = await _panel.MemberAsync(app.Id, Roles.Marketer, owner);
        var page = await _panel.SignedInAsync(marketer);
        await page.GotoAsync($"/panel/apps/{app.Id}/campaigns/edit");
        await page.FillAsync("input[name=name]", "Abandoned cart");
        await page.FillAsync("input[name=title]", "Still thinking it over?");
        await page.FillAsync("#step-what textarea[name=body]", "Your cart is waiting");

        await Expect(page.Locator("#trigger")).ToBeHiddenAsync();
        await page.CheckAsync("input[name=schedule][value=trigger]");
        await Expect(page.Locator("#trigger")).ToBeVisibleAsync();
        await page.SelectOptionAsync("#trigger-type", "absence");
        await page.FillAsync("input[name=triggerEvent]", "added_to_cart");
        await page.FillAsync("input[name=triggerCancelEvent]", "purchase");
        await page.FillAsync("input[name=triggerWithin]", "60");
        // Event filters belong to event triggers: hidden for inactivity, back for an absence trigger.
        await Expect(page.Locator("#trigger-filters")).ToBeVisibleAsync();
        await page.SelectOptionAsync("#trigger-type", "inactivity");
        await Expect(page.Locator("#trigger-filters")).ToBeHiddenAsync();
        await page.SelectOptionAsync("#trigger-type", "absence");
        await page.Locator("input[name=filterAttribute]").First.FillAsync("total");
        await page.Locator("select[name=filterOp]").First.SelectOptionAsync("gt");
        await page.Locator("input[name=filterValue]").First.FillAsync("100");
        await PanelDriver.ShotAsync(page, "campaign-trigger-filters");
        await page.ClickAsync("button[type=submit].primary");
        await page.ArrivedAsync("**/review");
        await Expect(page.Locator("#activate")).ToBeVisibleAsync();

        var id = long.Parse(page.Url.Split('/')[^2], CultureInfo.InvariantCulture);
        using var rest = host.Client(app.RestKey);
        var trigger = (await rest.GetFromJsonAsync<JsonElement>($"/api/v1/campaigns/{id}", Ct)).GetProperty("definition").GetProperty("trigger");
        trigger.GetProperty("type").GetString().ShouldBe("absence");
        trigger.GetProperty("cancelEvent").GetString().ShouldBe("purchase");
        var filter = trigger.GetProperty("filters").EnumerateArray().Single();
        filter.GetProperty("attribute").GetString().ShouldBe("total");
        filter.GetProperty("op").GetString().ShouldBe("gt");
        filter.GetProperty("value").GetDouble().ShouldBe(100);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_slow_send_is_stopped_midway_and_the_rest_is_cancelled()
    {
        // Every phone's provider answers after a second: with chunks of 5 and 2 requests at a time the send takes many seconds.
        const int devices = 24;
        var (app, _) = await PhonesAsync(devices, new SimOptions { Seed = 9, IosShare = 0, AndroidShare = 1, SlowPercent = 100, SlowDelay = TimeSpan.FromSeconds(1) });
        var id = await DraftAsync(app.RestKey, new { name = "Slow announcement", channel = "push", content = new { title = "Big news", body = "Read all about it" }, audience = new { all = true } });
        var owner = await _panel.OwnerAsync();
        var page = await _panel.SignedInAsync(owner, reason: "Announcement was premature");
        await page.GotoAsync($"/panel/apps/{app.Id}/campaigns/{id}/review");
        await page.ClickAsync("#send");
        await page.ArrivedAsync("**/report");
        await Expect(page.Locator("#report [data-key=targeted]")).ToHaveTextAsync(devices.ToString(CultureInfo.InvariantCulture));

        // Stop once the first messages are out.
        await Expect(page.Locator("#report [data-key=sent]")).Not.ToHaveTextAsync("0", new() { Timeout = 20_000 });
        await page.ClickAsync("#stop");
        await Expect(page.Locator(".flash.ok")).ToContainTextAsync("Stopped");
        await Expect(page.Locator("[data-key=state]")).ToHaveTextAsync("stopped");
        var (sent, cancelled, sending) = (await NumberAsync(page, "sent"), await NumberAsync(page, "cancelled"), await NumberAsync(page, "sending"));
        sent.ShouldBeGreaterThan(0);
        cancelled.ShouldBeGreaterThan(0);
        sending.ShouldBe(0); // the stop waited for requests in flight
        (sent + cancelled + await NumberAsync(page, "failed")).ShouldBe(devices);
        (await page.TextContentAsync("#history"))!.ShouldContain("Announcement was premature");
        await PanelDriver.ShotAsync(page, "campaign-stopped");

        // Nothing more goes out after the stop answered.
        var requests = host.Providers.Fcm.Received.Count(r => r.Title == "Big news");
        requests.ShouldBe(sent);
        await page.ReloadAsync();
        (await NumberAsync(page, "sent")).ShouldBe(sent);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task An_approver_approves_a_draft_and_only_then_the_marketer_can_send_it()
    {
        var (app, _) = await PhonesAsync(4);
        using (var rest = host.Client(app.RestKey))
            (await rest.PatchAsJsonAsync("/api/v1/app", new { limits = new { requireApproval = true } }, Ct)).EnsureSuccessStatusCode();
        var id = await DraftAsync(app.RestKey, new { name = "Needs a nod", channel = "push", content = new { title = "Checked twice", body = "Approved by a second person" }, audience = new { all = true } });
        var owner = await _panel.OwnerAsync();
        var marketer = await _panel.MemberAsync(app.Id, Roles.Marketer, owner);
        var approver = await _panel.MemberAsync(app.Id, Roles.Approver, owner);
        var review = $"/panel/apps/{app.Id}/campaigns/{id}/review";

        var m = await _panel.SignedInAsync(marketer);
        await m.GotoAsync(review);
        (await m.TextContentAsync("#awaiting-approval"))!.ShouldContain("requires an approval");
        (await m.Locator("#send").CountAsync()).ShouldBe(0);
        (await m.Locator("#approve").CountAsync()).ShouldBe(0);
        await PanelDriver.ShotAsync(m, "campaign-review-awaiting-approval");

        var a = await _panel.SignedInAsync(approver);
        await a.GotoAsync(review);
        (await a.Locator("#send").CountAsync()).ShouldBe(0);
        await a.ClickAsync("#approve");
        await Expect(a.Locator("#approved")).ToContainTextAsync(approver.Email);
        await PanelDriver.ShotAsync(a, "campaign-review-approved");
        await a.Context.CloseAsync();

        await m.ReloadAsync();
        await m.ClickAsync("#send");
        await m.ArrivedAsync("**/report");
        await Expect(m.Locator("#report [data-key=sent]")).ToHaveTextAsync("4", new() { Timeout = 20_000 });
        (host.Providers.Fcm.Received.Count(r => r.Title == "Checked twice") + host.Providers.Apns.Received.Count(r => r.Title == "Checked twice")).ShouldBe(4);
        await m.Context.CloseAsync();
    }

    [Fact]
    public async Task A_viewer_sees_no_send_button_and_a_crafted_send_is_refused_and_audited()
    {
        var (app, _) = await PhonesAsync(2);
        var id = await DraftAsync(app.RestKey, new { name = "Not yours to send", channel = "push", content = new { title = "Hi", body = "Only admins and marketers send" }, audience = new { all = true } });
        var owner = await _panel.OwnerAsync();
        var viewer = await _panel.MemberAsync(app.Id, Roles.Viewer, owner);
        var page = await _panel.SignedInAsync(viewer);
        await page.GotoAsync($"/panel/apps/{app.Id}/campaigns/{id}/review");
        (await page.TextContentAsync("h1"))!.ShouldBe("Not yours to send");
        (await page.TextContentAsync("#audience-size"))!.Trim().ShouldBe("2");
        (await page.Locator("#send").CountAsync()).ShouldBe(0);
        (await page.TextContentAsync("#no-send"))!.ShouldContain("sending needs marketer");
        await PanelDriver.ShotAsync(page, "campaign-review-viewer");

        // A hand-made POST with the viewer's own valid anti-forgery token (the wizard's read-only form carries one).
        await page.GotoAsync($"/panel/apps/{app.Id}/campaigns/edit/{id}");
        (await page.Locator("button[type=submit].primary").CountAsync()).ShouldBe(0);
        var status = await page.EvaluateAsync<int>($$"""
            async () => {
              const body = new FormData(document.getElementById('campaign-form'));
              const r = await fetch('/panel/apps/{{app.Id}}/campaigns/{{id}}/review?handler=send', { method: 'POST', body, credentials: 'same-origin' });
              return r.status;
            }
            """);
        status.ShouldBe(403);
        var audit = await host.Services.GetRequiredService<AuditLog>().ReadAsync(app.Id, 500, Ct);
        audit.ShouldContain(e => e.Action == "refused" && e.UserId == viewer.Id && e.Detail == $"POST /panel/apps/{app.Id}/campaigns/{id}/review needs EditCampaigns");
        using var rest = host.Client(app.RestKey);
        (await rest.GetFromJsonAsync<JsonElement>($"/api/v1/campaigns/{id}", Ct)).GetProperty("state").GetString().ShouldBe("draft");
        await page.Context.CloseAsync();
    }
}
