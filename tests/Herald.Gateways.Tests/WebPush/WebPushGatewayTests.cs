using System.Text.Json;
using Herald.Gateways.WebPush;
using Herald.Sim.Providers.WebPush;

namespace Herald.Gateways.Tests.WebPush;

public sealed class WebPushGatewayTests : IAsyncLifetime
{
    private LoopbackWebPushServer _server = null!;
    private readonly HttpClient _http = new();
    private readonly VapidKeys _keys = VapidKeys.Generate();

    public async ValueTask InitializeAsync() => _server = await LoopbackWebPushServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _http.Dispose();
    }

    private WebPushGateway Gateway(TimeProvider? time = null, TimeSpan? timeout = null, VapidKeys? keys = null) =>
        new(_http, new WebPushOptions
        {
            VapidPublicKey = (keys ?? _keys).PublicKey,
            VapidPrivateKey = (keys ?? _keys).PrivateKey,
            Subject = "mailto:ops@herald.example",
            IconUrl = "https://shop.example/icon.png",
            RequestTimeout = timeout ?? TimeSpan.FromSeconds(30),
        }, time ?? TimeProvider.System);

    private WebPushSubscription Subscribe() => _server.CreateSubscription(_keys.PublicKey);

    private static PushTarget Target(WebPushSubscription s) => new(s.Endpoint, s.P256dh, s.Auth);

    private static PushMessage Message(string id = "msg-1") => new()
    {
        MessageId = id,
        Title = "İndirim başladı",
        Body = "Şimdi %20 indirimli — ğüşıöç",
        ImageUrl = "https://shop.example/banner.png",
        Url = "https://shop.example/sale",
        Data = new Dictionary<string, string> { ["campaign"] = "c-7" },
        Buttons = [new PushButton("buy", "Satın al", "url", "https://shop.example/buy"), new PushButton("later", "Sonra", "dismiss")],
        Priority = PushPriority.High,
        TimeToLive = TimeSpan.FromHours(2),
    };

    [Fact]
    public async Task A_push_is_delivered_and_the_service_decrypts_exactly_what_was_sent()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();

        var outcome = await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered, outcome.Reason);
        outcome.StatusCode.ShouldBe(201);
        outcome.ProviderMessageId.ShouldNotBeNull().ShouldStartWith(_server.Origin + "/message/");
        var push = _server.ReceivedFor(subscription.Endpoint).ShouldHaveSingleItem();
        using var json = JsonDocument.Parse(push.Payload);
        var root = json.RootElement;
        root.GetProperty("title").GetString().ShouldBe("İndirim başladı");
        root.GetProperty("body").GetString().ShouldBe("Şimdi %20 indirimli — ğüşıöç");
        root.GetProperty("icon").GetString().ShouldBe("https://shop.example/icon.png");
        root.GetProperty("image").GetString().ShouldBe("https://shop.example/banner.png");
        root.GetProperty("url").GetString().ShouldBe("https://shop.example/sale");
        root.GetProperty("data").GetProperty("campaign").GetString().ShouldBe("c-7");
        root.GetProperty("message_id").GetString().ShouldBe("msg-1");
        var actions = root.GetProperty("actions").EnumerateArray().ToList();
        actions.Count.ShouldBe(2);
        actions[0].GetProperty("action").GetString().ShouldBe("buy");
        actions[0].GetProperty("title").GetString().ShouldBe("Satın al");
        actions[0].GetProperty("target").GetString().ShouldBe("https://shop.example/buy");
        actions[1].GetProperty("action").GetString().ShouldBe("later");
    }

    [Fact]
    public async Task A_push_carries_TTL_urgency_topic_encoding_and_a_VAPID_token_for_the_service_origin()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();

        await gateway.SendAsync(Target(subscription), Message() with { CollapseKey = "spring-sale" }, TestContext.Current.CancellationToken);

        var push = _server.Received.ShouldHaveSingleItem();
        push.Headers["TTL"].ShouldBe("7200");
        push.Headers["Urgency"].ShouldBe("high");
        push.Headers["Topic"].ShouldBe("spring-sale");
        push.Headers["Content-Encoding"].ShouldBe("aes128gcm");
        push.Headers["Content-Type"].ShouldBe("application/octet-stream");
        push.Vapid.Audience.ShouldBe(_server.Origin);
        push.Vapid.PublicKey.ShouldBe(_keys.PublicKey);
        push.Vapid.Subject.ShouldBe("mailto:ops@herald.example");
    }

    [Fact]
    public async Task Normal_priority_without_TTL_sends_normal_urgency_four_weeks_and_a_hashed_topic_from_the_message_id()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();
        var message = new PushMessage { MessageId = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:variant/B", Title = "t", Body = "b" };

        var outcome = await gateway.SendAsync(Target(subscription), message, TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered, outcome.Reason);
        var push = _server.Received.ShouldHaveSingleItem();
        push.Headers["TTL"].ShouldBe((28 * 24 * 3600).ToString());
        push.Headers["Urgency"].ShouldBe("normal");
        push.Headers["Topic"].Length.ShouldBe(32);
        push.Headers["Topic"].ShouldBe(WebPushGateway.Topic(message.MessageId));
        JsonDocument.Parse(push.Payload).RootElement.GetProperty("image").ValueKind.ShouldBe(JsonValueKind.Null);
    }

    [Fact]
    public async Task A_gone_subscription_is_reported_dead()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();
        _server.SetFailure(subscription.Endpoint, PushFailure.Gone);

        var outcome = await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.TokenDead);
        outcome.StatusCode.ShouldBe(410);
    }

    [Fact]
    public async Task An_unknown_subscription_404_is_reported_dead()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();
        _server.SetFailure(subscription.Endpoint, PushFailure.NotFound);

        (await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken)).Kind.ShouldBe(OutcomeKind.TokenDead);
    }

    [Fact]
    public async Task An_unsubscribed_browser_is_reported_dead()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();
        _server.Unsubscribe(subscription.Endpoint);

        (await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken)).Kind.ShouldBe(OutcomeKind.TokenDead);
    }

    [Fact]
    public async Task Payload_too_large_413_is_invalid_not_retried()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();
        _server.SetFailure(subscription.Endpoint, PushFailure.PayloadTooLarge);

        var outcome = await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.StatusCode.ShouldBe(413);
    }

    [Fact]
    public async Task A_payload_over_the_record_limit_is_refused_before_sending()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();

        var outcome = await gateway.SendAsync(Target(subscription), Message() with { Body = new string('x', 4000) }, TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.Reason.ShouldNotBeNull().ShouldContain("3993");
        _server.Received.ShouldBeEmpty();
        _server.Rejected.ShouldBeEmpty();
    }

    [Fact]
    public async Task Rate_limited_429_is_retried_after_the_given_Retry_After()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();
        _server.SetFailure(subscription.Endpoint, PushFailure.TooManyRequests(TimeSpan.FromSeconds(120)));

        var outcome = await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.RetryAfter.ShouldBe(TimeSpan.FromSeconds(120));
        outcome.StatusCode.ShouldBe(429);
    }

    [Fact]
    public async Task A_server_error_is_retried_and_the_retry_is_delivered()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();
        _server.SetFailure(subscription.Endpoint, PushFailure.ServerError);

        var first = await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken);
        _server.SetFailure(subscription.Endpoint, null);
        var second = await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken);

        first.Kind.ShouldBe(OutcomeKind.RetryLater);
        first.StatusCode.ShouldBe(500);
        second.Kind.ShouldBe(OutcomeKind.Delivered);
        _server.Received.ShouldHaveSingleItem();
    }

    [Fact]
    public async Task A_slow_push_service_is_retry_later_never_dead()
    {
        using var gateway = Gateway(timeout: TimeSpan.FromMilliseconds(300));
        var subscription = Subscribe();
        _server.SetFailure(subscription.Endpoint, PushFailure.Slow);

        var outcome = await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.Reason.ShouldNotBeNull().ShouldContain("did not answer");
    }

    [Fact]
    public async Task A_VAPID_key_other_than_the_subscription_key_is_a_configuration_error()
    {
        using var gateway = Gateway(keys: VapidKeys.Generate());
        var subscription = Subscribe();

        var outcome = await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError);
        outcome.StatusCode.ShouldBe(403);
        _server.Rejected.ShouldHaveSingleItem().Reason.ShouldContain("applicationServerKey");
    }

    [Fact]
    public async Task An_expired_VAPID_token_from_a_skewed_clock_is_a_configuration_error()
    {
        var lateClock = new ManualClock(DateTimeOffset.UtcNow.AddDays(-2));
        using var gateway = Gateway(time: lateClock);
        var subscription = Subscribe();

        var outcome = await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError);
        outcome.StatusCode.ShouldBe(401);
        _server.Rejected.ShouldHaveSingleItem().Reason.ShouldContain("expired");
    }

    [Fact]
    public async Task Recall_is_refused_for_web_push_without_sending()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();

        var outcome = await gateway.SendAsync(Target(subscription), new PushMessage { MessageId = "m", Command = "recall" }, TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.Reason.ShouldBe(WebPushGateway.RecallRefusedReason);
        outcome.Reason!.ShouldContain("service worker");
        _server.Received.ShouldBeEmpty();
        _server.Rejected.ShouldBeEmpty();
    }

    [Fact]
    public async Task A_subscription_with_malformed_keys_is_invalid_without_sending()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();

        var badKey = await gateway.SendAsync(new PushTarget(subscription.Endpoint, "abc", subscription.Auth), Message(), TestContext.Current.CancellationToken);
        var noAuth = await gateway.SendAsync(new PushTarget(subscription.Endpoint, subscription.P256dh), Message(), TestContext.Current.CancellationToken);
        var notUrl = await gateway.SendAsync(new PushTarget("fcm-token-123", subscription.P256dh, subscription.Auth), Message(), TestContext.Current.CancellationToken);

        badKey.Kind.ShouldBe(OutcomeKind.Invalid);
        noAuth.Kind.ShouldBe(OutcomeKind.Invalid);
        notUrl.Kind.ShouldBe(OutcomeKind.Invalid);
        _server.Rejected.ShouldBeEmpty();
    }

    [Fact]
    public async Task An_unreachable_push_service_is_retry_later()
    {
        using var gateway = Gateway();
        var subscription = Subscribe();
        await _server.DisposeAsync();
        _server = await LoopbackWebPushServer.StartAsync();

        var outcome = await gateway.SendAsync(Target(subscription), Message(), TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
    }
}
