using System.Net.Http.Json;
using System.Text.Json;
using Herald.Sim.Providers.WebPush;
using Microsoft.Playwright;
using static Herald.E2E.Support.SdkSite;

namespace Herald.E2E;

/// <summary>
/// Opt-in, subscription and push display in Chromium. No browser push service is reachable here, so
/// PushManager.subscribe is replaced inside the page by one returning a subscription of a loopback push
/// service; Herald then sends a real encrypted push to it. Display and click go through the real
/// service worker: the push arrives by the DevTools protocol (ServiceWorker.deliverPushMessage).
/// </summary>
[Collection(E2ECollection.Name)]
public sealed class WebPushTests(E2EHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string FakePushManager(WebPushSubscription sub) => $$"""
        (() => {
          let current = null;
          const make = () => ({
            endpoint: {{JsonSerializer.Serialize(sub.Endpoint)}},
            toJSON() { return { endpoint: this.endpoint, keys: { p256dh: {{JsonSerializer.Serialize(sub.P256dh)}}, auth: {{JsonSerializer.Serialize(sub.Auth)}} } }; },
            unsubscribe() { current = null; return Promise.resolve(true); }
          });
          PushManager.prototype.subscribe = function (options) {
            const k = new Uint8Array(options.applicationServerKey);
            window.__subscribedWith = btoa(String.fromCharCode(...k)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
            current = make();
            return Promise.resolve(current);
          };
          PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
        })();
        """;

    [Fact]
    public async Task Accepting_the_prompt_subscribes_herald_pushes_for_real_and_unsubscribing_disables()
    {
        await using var push = await LoopbackWebPushServer.StartAsync();
        await using var site = await StartAsync(host, prompt: true);
        var vapidKey = (await site.Rest.GetFromJsonAsync<JsonElement>("/api/v1/app", Ct)).GetProperty("vapidPublicKey").GetString()!;
        (await site.Rest.PutAsJsonAsync("/api/v1/app/credentials/vapid", new { subject = "mailto:ops@shop.example" }, Ct)).EnsureSuccessStatusCode();
        var subscription = push.CreateSubscription(vapidKey);
        await site.Context.AddInitScriptAsync(FakePushManager(subscription));

        var page = await site.OpenAsync("home");
        var prompt = page.GetByRole(AriaRole.Dialog, new() { Name = "Never miss a deal" });
        await prompt.WaitForAsync();
        await site.ScreenshotAsync(page, "optin-prompt");
        // The visitor says yes in the box, then yes to the browser.
        await site.Context.GrantPermissionsAsync(["notifications"], new() { Origin = site.Origin });
        await prompt.GetByRole(AriaRole.Button, new() { Name = "Allow" }).ClickAsync();
        await page.WaitForFunctionAsync("() => window.__subscribedWith");
        (await page.EvaluateAsync<string>("() => window.__subscribedWith")).ShouldBe(vapidKey);

        var installationId = await InstallationIdAsync(page);
        await site.DeviceEventsAsync(installationId, "optin_prompt_shown", "optin_prompt_accepted", "push_enabled");
        JsonElement device = default;
        for (var i = 0; i < 150; i++)
        {
            device = await site.Rest.GetFromJsonAsync<JsonElement>($"/api/v1/devices/{installationId}", Ct);
            if (device.GetProperty("pushEnabled").GetBoolean()) break;
            await Task.Delay(100, Ct);
        }
        device.GetProperty("pushEnabled").GetBoolean().ShouldBeTrue();
        device.GetProperty("pushToken").GetString().ShouldBe(subscription.Endpoint);

        // Herald encrypts and signs a real push to the subscription; the loopback service decrypts it.
        using var sent = await site.Rest.PostAsJsonAsync($"/api/v1/devices/{installationId}/test-push",
            new { title = "Price drop", body = "Your shoes are 30% off", url = site.Url("shoes/running") }, Ct);
        var result = await sent.Content.ReadFromJsonAsync<JsonElement>(Ct);
        result.GetProperty("outcome").GetString().ShouldBe("Delivered", result.ToString());
        var received = push.ReceivedFor(subscription.Endpoint).ShouldHaveSingleItem();
        using var payload = JsonDocument.Parse(received.PayloadText);
        payload.RootElement.GetProperty("title").GetString().ShouldBe("Price drop");
        payload.RootElement.GetProperty("message_id").GetString().ShouldBe(result.GetProperty("messageId").GetString());

        await page.EvaluateAsync("() => herald.unsubscribe()");
        await site.DeviceEventsAsync(installationId, "push_disabled");
        for (var i = 0; i < 150 && device.GetProperty("pushEnabled").GetBoolean(); i++)
        {
            await Task.Delay(100, Ct);
            device = await site.Rest.GetFromJsonAsync<JsonElement>($"/api/v1/devices/{installationId}", Ct);
        }
        device.GetProperty("pushEnabled").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task Later_and_a_denied_permission_are_reported_and_nothing_is_subscribed()
    {
        await using var site = await StartAsync(host, prompt: true);
        var page = await site.OpenAsync("home");
        var prompt = page.GetByRole(AriaRole.Dialog, new() { Name = "Never miss a deal" });
        await prompt.GetByRole(AriaRole.Button, new() { Name = "Later" }).ClickAsync();
        await prompt.WaitForAsync(new() { State = WaitForSelectorState.Detached });
        var installationId = await InstallationIdAsync(page);
        await site.DeviceEventsAsync(installationId, "optin_prompt_shown", "optin_prompt_later");
        // "Later" keeps the box away on the next page.
        var next = await site.OpenAsync("products");
        (await next.Locator("#herald-optin").CountAsync()).ShouldBe(0);

        // Another visitor accepts the box but the browser permission is not given.
        await using var other = await StartAsync(host, prompt: true);
        var page2 = await other.OpenAsync("home");
        await page2.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Allow" }).ClickAsync();
        var id2 = await InstallationIdAsync(page2);
        var events = await other.DeviceEventsAsync(id2, "optin_prompt_shown", "optin_prompt_accepted");
        (await page2.EvaluateAsync<string>("() => Notification.permission")).ShouldNotBe("granted");
        Named(events, "push_enabled").ShouldBeEmpty();
        (await other.Rest.GetFromJsonAsync<JsonElement>($"/api/v1/devices/{id2}", Ct)).GetProperty("pushEnabled").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task A_push_delivered_to_the_service_worker_is_shown_and_its_click_is_tracked()
    {
        await using var site = await StartAsync(host);
        await site.Context.GrantPermissionsAsync(["notifications"], new() { Origin = site.Origin });
        await using var push = await LoopbackWebPushServer.StartAsync();
        await site.Context.AddInitScriptAsync(FakePushManager(push.CreateSubscription()));

        var page = await site.Context.NewPageAsync();
        var cdp = await site.Context.NewCDPSessionAsync(page);
        var registration = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        cdp.Event("ServiceWorker.workerVersionUpdated").OnEvent += (_, e) =>
        {
            foreach (var v in e!.Value.GetProperty("versions").EnumerateArray())
                if (v.GetProperty("scriptURL").GetString()!.Contains("/sdk/web/herald-sw.js", StringComparison.Ordinal)
                    && v.GetProperty("runningStatus").GetString() == "running"
                    // A push reaches only an active worker: one still installing would drop it.
                    && v.GetProperty("status").GetString() == "activated")
                    registration.TrySetResult(v.GetProperty("registrationId").GetString()!);
        };
        await cdp.SendAsync("ServiceWorker.enable");
        await site.OpenAsync("home", page);
        var installationId = await InstallationIdAsync(page);
        await site.DeviceEventsAsync(installationId, "push_enabled");
        var registrationId = await registration.Task.WaitAsync(TimeSpan.FromSeconds(15), Ct);

        var data = JsonSerializer.Serialize(new
        {
            title = "Back in stock", body = "Trail runners, size 42", url = site.Url("shoes/trail"),
            data = new { sku = "T-42" }, actions = new[] { new { action = "b0", title = "Buy", type = "url", target = site.Url("cart") } },
            message_id = "m-e2e-1",
        });
        await cdp.SendAsync("ServiceWorker.deliverPushMessage", new() { ["origin"] = site.Origin, ["registrationId"] = registrationId, ["data"] = data });

        // The worker shows the notification asynchronously: ask until it is there. (A wait on an async
        // predicate can come back with the pending promise, read as null before the notification exists.)
        var n = default(JsonElement);
        for (var tries = 0; tries < 200 && n.ValueKind != JsonValueKind.Object; tries++)
        {
            if (tries > 0) await Task.Delay(50, Ct);
            n = await page.EvaluateAsync<JsonElement>("""
                async () => {
                  const reg = await navigator.serviceWorker.ready;
                  const n = (await reg.getNotifications())[0];
                  return n ? { title: n.title, body: n.body, url: n.data.url, messageId: n.data.messageId, actions: n.actions.length } : null;
                }
                """);
        }
        n.ValueKind.ShouldBe(JsonValueKind.Object, "the service worker showed no notification");
        n.GetProperty("title").GetString().ShouldBe("Back in stock");
        n.GetProperty("messageId").GetString().ShouldBe("m-e2e-1");
        n.GetProperty("actions").GetInt32().ShouldBe(1);

        // Headless Chromium has no notification UI to click: the test dispatches notificationclick in the
        // worker itself, with the real notification, by evaluating in the worker's target over CDP.
        var browserCdp = await host.Browser.NewBrowserCDPSessionAsync();
        var targets = await browserCdp.SendAsync("Target.getTargets");
        var workerTarget = targets!.Value.GetProperty("targetInfos").EnumerateArray()
            .First(t => t.GetProperty("type").GetString() == "service_worker" && t.GetProperty("url").GetString()!.StartsWith(site.Origin + "/sdk/web/herald-sw.js", StringComparison.Ordinal))
            .GetProperty("targetId").GetString();
        var attached = await browserCdp.SendAsync("Target.attachToTarget", new() { ["targetId"] = workerTarget!, ["flatten"] = false });
        var evaluate = JsonSerializer.Serialize(new
        {
            id = 1, method = "Runtime.evaluate",
            @params = new
            {
                awaitPromise = true,
                expression = "self.registration.getNotifications().then(([n]) => self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n })))",
            },
        });
        await browserCdp.SendAsync("Target.sendMessageToTarget", new() { ["sessionId"] = attached!.Value.GetProperty("sessionId").GetString()!, ["message"] = evaluate });

        var events = await site.DeviceEventsAsync(installationId, "push_received", "push_clicked");
        Named(events, "push_received").Single().GetProperty("attributes").GetProperty("message_id").GetString().ShouldBe("m-e2e-1");
        var click = Named(events, "push_clicked").Single().GetProperty("attributes");
        click.GetProperty("message_id").GetString().ShouldBe("m-e2e-1");
        click.GetProperty("url").GetString().ShouldBe(site.Url("shoes/trail"));
    }
}
