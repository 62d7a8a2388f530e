using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Herald.Gateways.Apns;
using Herald.Gateways.Fcm;
using Herald.Server.Delivery;
using Herald.Sim.Providers;
using Herald.Sim.Providers.Smtp;
using Herald.Sim.Providers.WebPush;

namespace Herald.Tests;

/// <summary>Test sends through the real gateways to loopback providers, and what their answers do to devices and users.</summary>
public abstract class DeliveryTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private LoopbackProviders P => host.Providers;

    private static async Task Put(HttpClient rest, string channel, object body)
    {
        using var res = await rest.PutAsJsonAsync($"/api/v1/app/credentials/{channel}", body, Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.OK, await res.Content.ReadAsStringAsync(Ct));
    }

    private async Task<TestApp> PushAppAsync()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        await Put(rest, "fcm", P.FcmCredentials);
        await Put(rest, "apns", P.ApnsCredentials);
        await Put(rest, "vapid", LoopbackProviders.VapidCredentials);
        return app;
    }

    private static async Task<string> Register(TestApp app, object device)
    {
        using var res = await app.Sdk().PostAsJsonAsync("/sdk/v1/devices", device, Ct);
        var body = await res.Content.ReadAsStringAsync(Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("installationId").GetString()!;
    }

    private static string IosToken() => "beef" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(30));

    private async Task<WebPushSubscription> Subscribe(TestApp app)
    {
        var view = await app.Rest().GetJson("/api/v1/app");
        return P.WebPush.CreateSubscription(view.GetProperty("vapidPublicKey").GetString());
    }

    private static object Web(WebPushSubscription s) =>
        new { platform = "web", pushEnabled = true, webPush = new { endpoint = s.Endpoint, p256dh = s.P256dh, auth = s.Auth } };

    private static async Task<JsonElement> TestPush(HttpClient rest, string installationId, object? body = null)
    {
        using var res = await rest.PostAsJsonAsync($"/api/v1/devices/{installationId}/test-push", body ?? new { title = "Merhaba", body = "Sepetiniz sizi bekliyor" }, Ct);
        var text = await res.Content.ReadAsStringAsync(Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Fact]
    public async Task Test_push_reaches_android_ios_and_web_devices_through_their_gateways()
    {
        var app = await PushAppAsync();
        var rest = app.Rest();
        var fcmToken = $"sim-{Guid.NewGuid():N}";
        var apnsToken = IosToken();
        var sub = await Subscribe(app);
        var android = await Register(app, new { platform = "android", pushToken = fcmToken, pushEnabled = true });
        var ios = await Register(app, new { platform = "ios", pushToken = apnsToken, pushEnabled = true });
        var web = await Register(app, Web(sub));

        var a = await TestPush(rest, android, new { title = "Merhaba", body = "Android", url = "https://shop.example/c", data = new { campaign = "test" } });
        a.GetProperty("channel").GetString().ShouldBe("fcm");
        a.GetProperty("outcome").GetString().ShouldBe("Delivered", a.ToString());
        var fcm = P.Fcm.Received.Single(r => r.Token == fcmToken);
        fcm.Title.ShouldBe("Merhaba");
        fcm.Data["campaign"].ShouldBe("test");
        fcm.Data["herald_message_id"].ShouldBe(a.GetProperty("messageId").GetString());

        var i = await TestPush(rest, ios, new { title = "Merhaba", body = "iOS" });
        i.GetProperty("channel").GetString().ShouldBe("apns");
        i.GetProperty("outcome").GetString().ShouldBe("Delivered", i.ToString());
        P.Apns.Received.Single(r => r.Token == apnsToken).Body.ShouldBe("iOS");

        var w = await TestPush(rest, web, new { title = "Merhaba", body = "Web" });
        w.GetProperty("channel").GetString().ShouldBe("webpush");
        w.GetProperty("outcome").GetString().ShouldBe("Delivered", w.ToString());
        using var payload = JsonDocument.Parse(P.WebPush.ReceivedFor(sub.Endpoint).Single().PayloadText);
        payload.RootElement.GetProperty("body").GetString().ShouldBe("Web");

        foreach (var id in new[] { android, ios, web })
            (await rest.GetJson($"/api/v1/devices/{id}")).GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Null);
    }

    [Fact]
    public async Task Dead_tokens_mark_the_device_uninstalled_and_a_new_token_brings_it_back()
    {
        var app = await PushAppAsync();
        var rest = app.Rest();
        var sub = await Subscribe(app);
        P.WebPush.SetFailure(sub.Endpoint, PushFailure.Gone);
        var devices = new[]
        {
            await Register(app, new { platform = "android", pushToken = $"dead-{Guid.NewGuid():N}", pushEnabled = true }),
            await Register(app, new { platform = "ios", pushToken = "dead" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(30)), pushEnabled = true }),
            await Register(app, Web(sub)),
        };
        foreach (var id in devices)
        {
            var r = await TestPush(rest, id);
            r.GetProperty("outcome").GetString().ShouldBe("TokenDead", r.ToString());
            r.GetProperty("deviceUninstalled").GetBoolean().ShouldBeTrue();
            var d = await rest.GetJson($"/api/v1/devices/{id}");
            d.GetProperty("uninstalledAt").GetInt64().ShouldBe(host.Clock.GetUtcNow().ToUnixTimeMilliseconds());
            d.GetProperty("uninstallReason").GetString().ShouldNotBeNullOrWhiteSpace();
            d.GetProperty("pushEnabled").GetBoolean().ShouldBeFalse();
        }

        // Further test sends are refused with the reason rather than sent to a dead token.
        using (var again = await rest.PostAsJsonAsync($"/api/v1/devices/{devices[0]}/test-push", new { title = "x" }, Ct))
            await again.ShouldBeProblem(HttpStatusCode.Conflict, "uninstalledAt");

        // The app is reinstalled: it registers again with a fresh token and becomes a new installation.
        var fresh = $"sim-{Guid.NewGuid():N}";
        var reinstalled = await Register(app, new { installationId = devices[0], platform = "android", pushToken = fresh, pushEnabled = true });
        reinstalled.ShouldNotBe(devices[0]);
        (await rest.GetJson($"/api/v1/devices/{devices[0]}")).GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Number);
        var back = await rest.GetJson($"/api/v1/devices/{reinstalled}");
        back.GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Null);
        back.GetProperty("uninstallReason").ValueKind.ShouldBe(JsonValueKind.Null);
        back.GetProperty("reinstalledAt").GetInt64().ShouldBe(host.Clock.GetUtcNow().ToUnixTimeMilliseconds());
        (await TestPush(rest, reinstalled)).GetProperty("outcome").GetString().ShouldBe("Delivered");
    }

    [Fact]
    public async Task Unreachable_throttled_or_failing_providers_never_uninstall_a_device()
    {
        var app = await PushAppAsync();
        var rest = app.Rest();
        var sub = await Subscribe(app);
        // Nothing listens on port 1: connection refused, as for a push service that is down.
        var unreachable = await Register(app, Web(sub with { Endpoint = "http://127.0.0.1:1/push/gone-dark" }));
        var throttled = $"sim-{Guid.NewGuid():N}";
        P.Fcm.Inject(throttled, FcmFault.QuotaExceeded);
        var failing = IosToken();
        P.Apns.Inject(failing, ApnsFault.ServiceUnavailable);
        var devices = new[]
        {
            unreachable,
            await Register(app, new { platform = "android", pushToken = throttled, pushEnabled = true }),
            await Register(app, new { platform = "ios", pushToken = failing, pushEnabled = true }),
        };
        foreach (var id in devices)
        {
            var r = await TestPush(rest, id);
            r.GetProperty("outcome").GetString().ShouldBe("RetryLater", r.ToString());
            r.GetProperty("retryAfterSeconds").GetDouble().ShouldBeGreaterThan(0);
            r.GetProperty("deviceUninstalled").GetBoolean().ShouldBeFalse();
            (await rest.GetJson($"/api/v1/devices/{id}")).GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Null);
        }
    }

    [Fact]
    public async Task A_push_service_slower_than_the_timeout_is_retry_later_not_uninstalled()
    {
        // A node with a short provider timeout (the only timing in these tests: a client timeout).
        await using var node = host.NewNode(new Dictionary<string, string?> { ["Herald:Gateways:WebPushTimeout"] = "00:00:01" });
        var app = await PushAppAsync();
        var sub = await Subscribe(app);
        P.WebPush.SetFailure(sub.Endpoint, PushFailure.Slow);
        var id = await Register(app, Web(sub));
        var rest = node.CreateClient();
        rest.DefaultRequestHeaders.Authorization = new("Bearer", app.RestKey);

        var r = await TestPush(rest, id);
        r.GetProperty("outcome").GetString().ShouldBe("RetryLater", r.ToString());
        r.GetProperty("reason").GetString()!.ShouldContain("1");
        (await rest.GetJson($"/api/v1/devices/{id}")).GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Null);
    }

    [Fact]
    public async Task Missing_credentials_answer_409_naming_the_channel()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        var sub = await Subscribe(app);
        var cases = new (string Id, string Channel)[]
        {
            (await Register(app, new { platform = "android", pushToken = "t-android", pushEnabled = true }), "fcm"),
            (await Register(app, new { platform = "ios", pushToken = IosToken(), pushEnabled = true }), "apns"),
            (await Register(app, Web(sub)), "webpush"),
        };
        foreach (var (id, channel) in cases)
        {
            using var res = await rest.PostAsJsonAsync($"/api/v1/devices/{id}/test-push", new { title = "x" }, Ct);
            var p = await res.ShouldBeProblem(HttpStatusCode.Conflict, channel);
            p.GetProperty("detail").GetString()!.ShouldContain("/api/v1/app/credentials/");
        }
        await rest.PutAsJsonAsync("/api/v1/users/no-creds", new { email = "a@example.com", phone = "+905321234567" }, Ct);
        using (var e = await rest.PostAsJsonAsync("/api/v1/users/no-creds/test-email", new { subject = "s", text = "t" }, Ct))
            await e.ShouldBeProblem(HttpStatusCode.Conflict, "smtp");
        using (var s = await rest.PostAsJsonAsync("/api/v1/users/no-creds/test-sms", new { text = "t" }, Ct))
            await s.ShouldBeProblem(HttpStatusCode.Conflict, "sms");
    }

    [Fact]
    public async Task A_configuration_error_is_recorded_for_the_channel_and_blames_no_device()
    {
        var app = await PushAppAsync();
        var rest = app.Rest();
        var token = $"sim-{Guid.NewGuid():N}";
        P.Fcm.Inject(token, FcmFault.ThirdPartyAuthError);
        var id = await Register(app, new { platform = "android", pushToken = token, pushEnabled = true });

        var r = await TestPush(rest, id);
        r.GetProperty("outcome").GetString().ShouldBe("ConfigError", r.ToString());
        (await rest.GetJson($"/api/v1/devices/{id}")).GetProperty("uninstalledAt").ValueKind.ShouldBe(JsonValueKind.Null);
        var errors = await rest.GetJson("/api/v1/app/channel-errors");
        errors.GetArrayLength().ShouldBe(1);
        errors[0].GetProperty("channel").GetString().ShouldBe("fcm");
        errors[0].GetProperty("statusCode").GetInt32().ShouldBe(401);
    }

    [Fact]
    public async Task Bad_test_push_input_is_a_problem_naming_the_field()
    {
        var app = await PushAppAsync();
        var rest = app.Rest();
        var id = await Register(app, new { platform = "android", pushToken = "t-bad-input", pushEnabled = true });
        async Task Bad(object body, string field)
        {
            using var res = await rest.PostAsJsonAsync($"/api/v1/devices/{id}/test-push", body, Ct);
            await res.ShouldBeProblem(HttpStatusCode.BadRequest, field);
        }
        await Bad(new { title = " " }, "title");
        await Bad(new { title = new string('x', 300) }, "title");
        await Bad(new { title = "t", url = "not a url" }, "url");
        await Bad(new { title = "t", data = new Dictionary<string, string> { ["herald_cmd"] = "recall" } }, "data.herald_cmd");
        using var unknown = await rest.PostAsJsonAsync("/api/v1/devices/nope/test-push", new { title = "t" }, Ct);
        await unknown.ShouldBeProblem(HttpStatusCode.NotFound);
        var noToken = await Register(app, new { platform = "android", pushEnabled = true });
        using var none = await rest.PostAsJsonAsync($"/api/v1/devices/{noToken}/test-push", new { title = "t" }, Ct);
        await none.ShouldBeProblem(HttpStatusCode.Conflict, "pushToken");
    }

    [Fact]
    public async Task Test_email_goes_through_a_real_smtp_server_and_respects_opt_out_and_suppression()
    {
        await using var smtp = await SmtpTestServer.StartAsync(new SmtpServerSettings(RejectRcpt: "^gone@"));
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        await Put(rest, "smtp", new { host = smtp.Host, port = smtp.Port, from = "kampanya@shop.example", startTls = false });
        await rest.PutAsJsonAsync("/api/v1/users/ayse", new { email = "ayse@example.com" }, Ct);
        await rest.PutAsJsonAsync("/api/v1/users/optout", new { email = "optout@example.com", optIn = new { email = false } }, Ct);
        await rest.PutAsJsonAsync("/api/v1/users/gone", new { email = "gone@example.com" }, Ct);

        var r = await rest.PostAsJsonAsync("/api/v1/users/ayse/test-email", new { subject = "Şükrü'nün sepeti", html = "<p>Merhaba</p>", text = "Merhaba" }, Ct);
        var body = JsonDocument.Parse(await r.Content.ReadAsStringAsync(Ct)).RootElement;
        body.GetProperty("outcome").GetString().ShouldBe("Delivered", body.ToString());
        var mail = smtp.Messages().Single();
        mail.RcptTos.ShouldBe(["ayse@example.com"]);
        mail.Subject.ShouldBe("Şükrü'nün sepeti");
        mail.Headers["X-Herald-Message-Id"].ShouldBe(body.GetProperty("messageId").GetString());

        using (var o = await rest.PostAsJsonAsync("/api/v1/users/optout/test-email", new { subject = "s", text = "t" }, Ct))
            await o.ShouldBeProblem(HttpStatusCode.Conflict, "optIn.email");

        // 550 from the relay: the address itself is bad, so it is suppressed and not tried again.
        var g = JsonDocument.Parse(await (await rest.PostAsJsonAsync("/api/v1/users/gone/test-email", new { subject = "s", text = "t" }, Ct)).Content.ReadAsStringAsync(Ct)).RootElement;
        g.GetProperty("outcome").GetString().ShouldBe("Invalid", g.ToString());
        g.GetProperty("addressSuppressed").GetBoolean().ShouldBeTrue();
        (await rest.GetJson("/api/v1/users/gone")).GetProperty("emailSuppressedAt").GetInt64().ShouldBeGreaterThan(0);
        using (var again = await rest.PostAsJsonAsync("/api/v1/users/gone/test-email", new { subject = "s", text = "t" }, Ct))
            await again.ShouldBeProblem(HttpStatusCode.Conflict, "email");

        // A new address starts unsuppressed.
        await rest.PutAsJsonAsync("/api/v1/users/gone", new { email = "back@example.com" }, Ct);
        (await rest.GetJson("/api/v1/users/gone")).GetProperty("emailSuppressedAt").ValueKind.ShouldBe(JsonValueKind.Null);

        using var bad = await rest.PostAsJsonAsync("/api/v1/users/ayse/test-email", new { subject = "s" }, Ct);
        await bad.ShouldBeProblem(HttpStatusCode.BadRequest, "html");
    }

    [Fact]
    public async Task Test_email_is_paced_under_the_apps_email_quota()
    {
        await using var smtp = await SmtpTestServer.StartAsync();
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        await Put(rest, "smtp", new { host = smtp.Host, port = smtp.Port, from = "kampanya@shop.example", startTls = false });
        (await rest.PatchAsJsonAsync("/api/v1/app", new { limits = new { emailMaxPer24Hours = 1 } }, Ct)).EnsureSuccessStatusCode();
        await rest.PutAsJsonAsync("/api/v1/users/q1", new { email = "q1@example.com" }, Ct);
        await rest.PutAsJsonAsync("/api/v1/users/q2", new { email = "q2@example.com" }, Ct);

        async Task<JsonElement> Send(string user) =>
            JsonDocument.Parse(await (await rest.PostAsJsonAsync($"/api/v1/users/{user}/test-email", new { subject = "s", text = "t" }, Ct)).Content.ReadAsStringAsync(Ct)).RootElement.Clone();
        (await Send("q1")).GetProperty("outcome").GetString().ShouldBe("Delivered");
        var paced = await Send("q2");
        paced.GetProperty("outcome").GetString().ShouldBe("RetryLater", paced.ToString());
        paced.GetProperty("retryAfterSeconds").GetDouble().ShouldBeGreaterThan(3600);
        smtp.Messages().Count.ShouldBe(1);

        // Raising the limit takes effect at the next send: the gateway is rebuilt with the new quota.
        (await rest.PatchAsJsonAsync("/api/v1/app", new { limits = new { emailMaxPer24Hours = 10 } }, Ct)).EnsureSuccessStatusCode();
        (await Send("q2")).GetProperty("outcome").GetString().ShouldBe("Delivered");
    }

    [Fact]
    public async Task A_bad_gateway_setting_stops_start_up_naming_the_key()
    {
        await using var node = host.NewNode(new Dictionary<string, string?> { ["Herald:Gateways:Http:RequestTimeout"] = "-00:00:01" });
        var e = Should.Throw<Exception>(() => node.Server);
        e.ToString().ShouldContain("Herald:Gateways:Http:RequestTimeout");
    }

    [Theory]
    [InlineData("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn&Token=t", true)]
    [InlineData("https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription", true)]
    [InlineData("http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription", false)]
    [InlineData("https://sns.eu-west-1.amazonaws.com.evil.example/", false)]
    [InlineData("https://sns.eu-west-1.amazonaws.com:8443/", false)]
    [InlineData("https://evil.example/?sns.eu-west-1.amazonaws.com", false)]
    public void Only_amazon_sns_subscription_urls_are_followed(string url, bool follow) =>
        SesWebhook.IsSnsSubscribeUrl(url).ShouldBe(follow);

    [Fact]
    public async Task Test_sms_reaches_the_provider_and_respects_opt_out()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        await Put(rest, "sms", P.SmsCredentials);
        var phone = "+9053" + Random.Shared.Next(10_000_000, 99_999_999);
        await rest.PutAsJsonAsync("/api/v1/users/sms-user", new { phone }, Ct);
        await rest.PutAsJsonAsync("/api/v1/users/sms-out", new { phone = "+905321112233", optIn = new { sms = false } }, Ct);

        var r = JsonDocument.Parse(await (await rest.PostAsJsonAsync("/api/v1/users/sms-user/test-sms", new { text = "Siparişiniz yola çıktı." }, Ct)).Content.ReadAsStringAsync(Ct)).RootElement;
        r.GetProperty("outcome").GetString().ShouldBe("Delivered", r.ToString());
        var sms = P.Sms.Received.Single(s => s.To == phone);
        sms.Text.ShouldBe("Siparişiniz yola çıktı.");
        sms.Encoding.ShouldBe("ucs2");

        using var o = await rest.PostAsJsonAsync("/api/v1/users/sms-out/test-sms", new { text = "t" }, Ct);
        await o.ShouldBeProblem(HttpStatusCode.Conflict, "optIn.sms");
    }

    private static string SnsEnvelope(object ses) => JsonSerializer.Serialize(new
    {
        Type = "Notification",
        MessageId = Guid.NewGuid().ToString(),
        TopicArn = "arn:aws:sns:eu-west-1:123456789012:ses-feedback",
        Message = JsonSerializer.Serialize(ses),
    });

    private static object Bounce(string type, params string[] to) => new
    {
        notificationType = "Bounce",
        bounce = new { bounceType = type, bounceSubType = "General", bouncedRecipients = to.Select(a => new { emailAddress = a }).ToArray() },
        mail = new { messageId = "ses-1" },
    };

    [Fact]
    public async Task Ses_permanent_bounces_and_complaints_suppress_the_address_through_the_secret_webhook()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        (await rest.GetJson("/api/v1/app/ses-webhook")).GetProperty("configured").GetBoolean().ShouldBeFalse();
        using var made = await rest.PostAsync("/api/v1/app/ses-webhook", null, Ct);
        var hook = JsonDocument.Parse(await made.Content.ReadAsStringAsync(Ct)).RootElement;
        var url = new Uri(hook.GetProperty("url").GetString()!);
        url.AbsolutePath.ShouldBe($"/webhooks/ses/{app.Id}");
        var path = url.PathAndQuery;
        (await rest.GetJson("/api/v1/app/ses-webhook")).GetProperty("configured").GetBoolean().ShouldBeTrue();

        await rest.PutAsJsonAsync("/api/v1/users/b1", new { email = "Bounced@Example.com" }, Ct);
        await rest.PutAsJsonAsync("/api/v1/users/b2", new { email = "soft@example.com" }, Ct);
        await rest.PutAsJsonAsync("/api/v1/users/b3", new { email = "angry@example.com" }, Ct);
        var anon = host.Client();

        async Task<JsonElement> Post(string p, string body, HttpStatusCode expect = HttpStatusCode.OK)
        {
            using var res = await anon.PostAsync(p, Http.Json(body, "text/plain"), Ct);
            var text = await res.Content.ReadAsStringAsync(Ct);
            res.StatusCode.ShouldBe(expect, text);
            return JsonDocument.Parse(text).RootElement.Clone();
        }

        (await Post(path, SnsEnvelope(Bounce("Permanent", "bounced@example.com")))).GetProperty("suppressed").GetInt32().ShouldBe(1);
        (await Post(path, SnsEnvelope(Bounce("Transient", "soft@example.com")))).GetProperty("suppressed").GetInt32().ShouldBe(0);
        (await Post(path, JsonSerializer.Serialize(new
        {
            notificationType = "Complaint",
            complaint = new { complainedRecipients = new[] { new { emailAddress = "angry@example.com" } } },
            mail = new { messageId = "ses-2" },
        }))).GetProperty("suppressed").GetInt32().ShouldBe(1);

        var b1 = await rest.GetJson("/api/v1/users/b1");
        b1.GetProperty("emailSuppressedAt").GetInt64().ShouldBe(host.Clock.GetUtcNow().ToUnixTimeMilliseconds());
        b1.GetProperty("emailSuppressionReason").GetString()!.ShouldContain("Permanent");
        (await rest.GetJson("/api/v1/users/b2")).GetProperty("emailSuppressedAt").ValueKind.ShouldBe(JsonValueKind.Null);
        (await rest.GetJson("/api/v1/users/b3")).GetProperty("emailSuppressionReason").GetString()!.ShouldContain("complaint");

        await Post($"/webhooks/ses/{app.Id}?token=hsw_wrong", SnsEnvelope(Bounce("Permanent", "soft@example.com")), HttpStatusCode.Unauthorized);
        await Post($"/webhooks/ses/{app.Id}", SnsEnvelope(Bounce("Permanent", "soft@example.com")), HttpStatusCode.Unauthorized);
        (await rest.GetJson("/api/v1/users/b2")).GetProperty("emailSuppressedAt").ValueKind.ShouldBe(JsonValueKind.Null);

        (await Post(path, "not json", HttpStatusCode.BadRequest)).GetProperty("field").GetString().ShouldBe("body");
        var confirm = JsonSerializer.Serialize(new { Type = "SubscriptionConfirmation", SubscribeURL = "http://169.254.169.254/latest/meta-data", Token = "t" });
        (await Post(path, confirm, HttpStatusCode.BadRequest)).GetProperty("field").GetString().ShouldBe("SubscribeURL");
    }

    [Fact]
    public async Task Android_tokens_not_refreshed_for_270_days_are_stale()
    {
        var app = await host.NewAppAsync();
        var feedback = host.Services.GetRequiredService<DeliveryFeedback>();
        var android = await Register(app, new { platform = "android", pushToken = "t-old", pushEnabled = true });
        await Register(app, new { platform = "ios", pushToken = IosToken(), pushEnabled = true });
        var refreshed = await Register(app, new { platform = "android", pushToken = "t-new-1", pushEnabled = true });
        var start = host.Clock.GetUtcNow();
        try
        {
            host.Clock.Advance(TimeSpan.FromDays(100));
            await Register(app, new { installationId = refreshed, platform = "android", pushToken = "t-new-2", pushEnabled = true });
            host.Clock.Advance(TimeSpan.FromDays(169));
            (await feedback.StaleAndroidDevicesAsync(app.Id, 100, Ct)).ShouldBeEmpty();
            host.Clock.Advance(TimeSpan.FromDays(2));
            (await feedback.StaleAndroidDevicesAsync(app.Id, 100, Ct)).ShouldBe([android]);
            var d = await app.Rest().GetJson($"/api/v1/devices/{android}");
            DeliveryFeedback.IsStale("android", d.GetProperty("tokenUpdatedAt").GetInt64(), host.Clock.GetUtcNow()).ShouldBeTrue();
            DeliveryFeedback.IsStale("ios", d.GetProperty("tokenUpdatedAt").GetInt64(), host.Clock.GetUtcNow()).ShouldBeFalse();
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task The_registry_reuses_a_gateway_until_the_credentials_change()
    {
        var app = await PushAppAsync();
        var registry = host.Services.GetRequiredService<GatewayRegistry>();
        var first = await registry.PushAsync(app.Id, Channels.Apns, Ct);
        (await registry.PushAsync(app.Id, Channels.Apns, Ct)).ShouldBeSameAs(first);
        first.ShouldBeOfType<ApnsGateway>();
        (await registry.PushAsync(app.Id, Channels.Fcm, Ct)).ShouldBeOfType<FcmGateway>();

        await Put(app.Rest(), "apns", new { keyId = P.Apns.KeyId, teamId = P.Apns.TeamId, bundleId = "com.other.app", privateKeyP8 = P.Apns.PrivateKeyPem });
        (await registry.PushAsync(app.Id, Channels.Apns, Ct)).ShouldNotBeSameAs(first);
        (await registry.PushAsync((await host.NewAppAsync()).Id, Channels.Fcm, Ct).ContinueWith(t => t.Exception?.InnerException, Ct))
            .ShouldBeOfType<Herald.Server.Infrastructure.ProblemException>().Status.ShouldBe(409);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class DeliveryTestsSqlite(SqliteHost host) : DeliveryTests(host);

[Collection(PostgresCollection.Name)]
public sealed class DeliveryTestsPostgres(PostgresHost host) : DeliveryTests(host);
