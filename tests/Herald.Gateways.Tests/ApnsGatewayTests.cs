using Herald.Gateways.Apns;
using Herald.Sim.Providers;

namespace Herald.Gateways.Tests;

public sealed class ApnsGatewayTests : IAsyncLifetime
{
    private LoopbackApnsServer _server = null!;
    private readonly ManualClock _clock = new();

    public async ValueTask InitializeAsync() => _server = await LoopbackApnsServer.StartAsync(time: _clock);

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private ApnsGateway Gateway(Action<ApnsOptions>? configure = null, string? topic = null)
    {
        var options = new ApnsOptions { BaseAddress = _server.BaseAddress };
        options.Http.TrustedCertificate = _server.Certificate;
        configure?.Invoke(options);
        return new ApnsGateway(new ApnsCredentials(_server.TeamId, _server.KeyId, _server.PrivateKeyPem, topic ?? _server.Topic), options, _clock);
    }

    private static string Device(int n) => n.ToString("x64");

    private static PushMessage Message(string id = "m-1") => new()
    {
        MessageId = id,
        Title = "Spring sale",
        Body = "20% off until Sunday",
        Data = new Dictionary<string, string> { ["campaign"] = "spring" },
        TimeToLive = TimeSpan.FromHours(1),
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Alert_is_delivered_with_the_apns_id_and_shown_as_sent()
    {
        using var gateway = Gateway();

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered);
        var shown = _server.Received.ShouldHaveSingleItem();
        outcome.ProviderMessageId.ShouldBe(shown.ApnsId);
        Guid.TryParse(shown.ApnsId, out _).ShouldBeTrue();
        shown.Token.ShouldBe(Device(1));
        shown.Title.ShouldBe("Spring sale");
        shown.Body.ShouldBe("20% off until Sunday");
        shown.Custom("campaign").ShouldBe("spring");
        shown.Custom("herald_message_id").ShouldBe("m-1");
        shown.PushType.ShouldBe("alert");
        shown.Header("apns-topic").ShouldBe(_server.Topic);
        shown.CollapseId.ShouldBe("m-1");
        shown.Expiration.ShouldBe((_clock.GetUtcNow() + TimeSpan.FromHours(1)).ToUnixTimeSeconds().ToString());
        shown.MutableContent.ShouldBeFalse();
    }

    [Fact]
    public async Task Image_sets_mutable_content_and_buttons_set_a_category()
    {
        using var gateway = Gateway();
        var message = Message() with
        {
            ImageUrl = "https://cdn.example.com/a.png",
            Buttons = [new PushButton("buy", "Buy now", "url", "https://shop.example.com"), new PushButton("later", "Later", "dismiss")],
            Badge = 3,
            Sound = "default",
        };

        await gateway.SendAsync(new PushTarget(Device(1)), message, Ct);

        var shown = _server.Received.ShouldHaveSingleItem();
        shown.MutableContent.ShouldBeTrue();
        shown.Category.ShouldBe("herald.buy.later");
        shown.Aps.GetProperty("badge").GetInt32().ShouldBe(3);
        shown.Aps.GetProperty("sound").GetString().ShouldBe("default");
        shown.Custom("herald_image").ShouldBe("https://cdn.example.com/a.png");
        shown.Payload.GetProperty("herald_buttons").GetArrayLength().ShouldBe(2);
    }

    [Theory]
    [InlineData(PushPriority.High, "10")]
    [InlineData(PushPriority.Normal, "5")]
    public async Task Priority_maps_to_apns_priority(PushPriority priority, string expected)
    {
        using var gateway = Gateway();

        await gateway.SendAsync(new PushTarget(Device(1)), Message() with { Priority = priority }, Ct);

        _server.Received.ShouldHaveSingleItem().Priority.ShouldBe(expected);
    }

    [Fact]
    public async Task Recall_is_a_background_push_at_priority_5_even_when_high_was_asked()
    {
        using var gateway = Gateway();

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), new PushMessage { MessageId = "m-9", Command = "recall", Priority = PushPriority.High }, Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered);
        var shown = _server.Received.ShouldHaveSingleItem();
        shown.PushType.ShouldBe("background");
        shown.Priority.ShouldBe("5");
        shown.ContentAvailable.ShouldBeTrue();
        shown.Aps.TryGetProperty("alert", out _).ShouldBeFalse();
        shown.Custom("herald_cmd").ShouldBe("recall");
        shown.Custom("message_id").ShouldBe("m-9");
    }

    [Fact]
    public async Task Zero_ttl_means_expiration_0_and_no_ttl_sends_no_expiration()
    {
        using var gateway = Gateway();

        await gateway.SendAsync(new PushTarget(Device(1)), Message() with { TimeToLive = TimeSpan.Zero }, Ct);
        await gateway.SendAsync(new PushTarget(Device(2)), Message() with { TimeToLive = null }, Ct);

        var received = _server.Received;
        received[0].Expiration.ShouldBe("0");
        received[1].Expiration.ShouldBeNull();
    }

    [Fact]
    public async Task Apns_id_is_the_message_id_when_it_is_a_uuid_and_stable_otherwise()
    {
        var uuid = Guid.NewGuid();
        using var gateway = Gateway();

        await gateway.SendAsync(new PushTarget(Device(1)), Message(uuid.ToString()), Ct);
        await gateway.SendAsync(new PushTarget(Device(1)), Message("m-5"), Ct);
        await gateway.SendAsync(new PushTarget(Device(2)), Message("m-5"), Ct);

        var received = _server.Received;
        received[0].ApnsId.ShouldBe(uuid.ToString());
        received[1].ApnsId.ShouldBe(received[2].ApnsId);
    }

    [Fact]
    public async Task Provider_token_is_reused_across_many_sends()
    {
        using var gateway = Gateway();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => gateway.SendAsync(new PushTarget(Device(i)), Message(), Ct)));

        outcomes.ShouldAllBe(o => o.Kind == OutcomeKind.Delivered);
        _server.DistinctProviderTokens.ShouldBe(1);
        gateway.ProviderTokensIssued.ShouldBe(1);
    }

    [Fact]
    public async Task Provider_token_is_kept_for_20_minutes_and_refreshed_before_60()
    {
        using var gateway = Gateway();
        await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        _clock.Advance(TimeSpan.FromMinutes(30));
        await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);
        gateway.ProviderTokensIssued.ShouldBe(1);

        _clock.Advance(TimeSpan.FromMinutes(21)); // 51 minutes old
        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered);
        gateway.ProviderTokensIssued.ShouldBe(2);
        _server.DistinctProviderTokens.ShouldBe(2);
    }

    [Fact]
    public async Task Expired_provider_token_is_refreshed_once_and_the_push_goes_through()
    {
        using var gateway = Gateway();
        _server.Inject(Device(1), ApnsFault.ExpiredProviderToken, times: 1);

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered);
        gateway.ProviderTokensIssued.ShouldBe(2);
        _server.Requests.ShouldBe(2);
    }

    [Fact]
    public async Task Provider_token_expired_again_after_refresh_is_a_configuration_error()
    {
        using var gateway = Gateway();
        _server.Inject(Device(1), ApnsFault.ExpiredProviderToken);

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError);
        outcome.Reason.ShouldStartWith("ExpiredProviderToken");
        _server.Requests.ShouldBe(2);
    }

    [Fact]
    public async Task Token_signed_with_another_key_is_a_configuration_error()
    {
        using var otherKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var options = new ApnsOptions { BaseAddress = _server.BaseAddress };
        options.Http.TrustedCertificate = _server.Certificate;
        using var gateway = new ApnsGateway(new ApnsCredentials(_server.TeamId, _server.KeyId, otherKey.ExportPkcs8PrivateKeyPem(), _server.Topic), options, _clock);

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError);
        outcome.Reason.ShouldStartWith("InvalidProviderToken");
    }

    [Fact]
    public async Task Wrong_topic_is_a_configuration_error()
    {
        using var gateway = Gateway(topic: "com.other.app");

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError);
        outcome.Reason!.ShouldContain("com.other.app");
    }

    [Theory]
    [InlineData("Unregistered")]
    [InlineData("ExpiredToken")]
    [InlineData("BadDeviceToken")]
    public async Task Gone_or_invalid_device_token_is_dead_and_not_retried(string reason)
    {
        using var gateway = Gateway();
        _server.Inject(Device(1), new ApnsFault(reason == "BadDeviceToken" ? 400 : 410, reason));

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.TokenDead);
        outcome.Reason.ShouldBe(reason);
        _server.Requests.ShouldBe(1);
    }

    [Fact]
    public async Task Non_hex_token_is_dead_without_a_request()
    {
        using var gateway = Gateway();

        var outcome = await gateway.SendAsync(new PushTarget("../../admin"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.TokenDead);
        _server.Requests.ShouldBe(0);
    }

    [Fact]
    public async Task Token_for_another_topic_is_refused_but_the_device_is_kept()
    {
        using var gateway = Gateway();
        _server.Inject(Device(1), ApnsFault.DeviceTokenNotForTopic);

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.Reason.ShouldBe("DeviceTokenNotForTopic");
    }

    [Fact]
    public async Task Payload_too_large_answer_is_invalid()
    {
        using var gateway = Gateway();
        _server.Inject(Device(1), ApnsFault.PayloadTooLarge);

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.StatusCode.ShouldBe(413);
    }

    [Fact]
    public async Task Payload_over_4096_bytes_is_refused_before_sending()
    {
        using var gateway = Gateway();

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message() with { Body = new string('x', 4100) }, Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.Reason!.ShouldContain("4096");
        _server.Requests.ShouldBe(0);
    }

    [Fact]
    public async Task Collapse_id_over_64_bytes_is_refused_before_sending()
    {
        using var gateway = Gateway();

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message() with { CollapseKey = new string('c', 65) }, Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        _server.Requests.ShouldBe(0);
    }

    [Fact]
    public async Task Aps_data_key_is_refused_before_sending()
    {
        using var gateway = Gateway();

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message() with { Data = new Dictionary<string, string> { ["aps"] = "x" } }, Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        _server.Requests.ShouldBe(0);
    }

    [Fact]
    public async Task Too_many_requests_is_retried_later_honoring_retry_after()
    {
        using var gateway = Gateway();
        _server.Inject(Device(1), ApnsFault.TooManyRequests with { RetryAfter = TimeSpan.FromSeconds(30) });

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.RetryAfter.ShouldBe(TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData(500, "InternalServerError")]
    [InlineData(503, "ServiceUnavailable")]
    public async Task Server_errors_are_retried_later_with_back_off(int status, string reason)
    {
        using var gateway = Gateway();
        _server.Inject(Device(1), new ApnsFault(status, reason));

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.RetryAfter!.Value.ShouldBeInRange(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.2));
        ApnsGateway.RetryDelay(outcome, 2).ShouldBe(outcome.RetryAfter.Value * 2);
    }

    [Fact]
    public async Task Slow_endpoint_is_retry_later_not_token_dead()
    {
        using var gateway = Gateway(o => o.Http.RequestTimeout = TimeSpan.FromMilliseconds(300));
        await gateway.SendAsync(new PushTarget(Device(2)), Message(), Ct);
        _server.Inject(Device(1), ApnsFault.Hang);

        var outcome = await gateway.SendAsync(new PushTarget(Device(1)), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.Reason!.ShouldContain("timeout");
    }

    [Fact]
    public void Refresh_interval_outside_20_to_60_minutes_fails_at_start()
    {
        Should.Throw<ArgumentException>(() => Gateway(o => o.ProviderTokenRefreshAfter = TimeSpan.FromMinutes(10)))
            .Message.ShouldContain("ProviderTokenRefreshAfter");
    }
}
