using Herald.Gateways.Fcm;
using Herald.Sim.Providers;

namespace Herald.Gateways.Tests;

public sealed class FcmGatewayTests : IAsyncLifetime
{
    private LoopbackFcmServer _server = null!;
    private readonly ManualClock _clock = new();

    public async ValueTask InitializeAsync() => _server = await LoopbackFcmServer.StartAsync(time: _clock);

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private FcmGateway Gateway(Action<FcmOptions>? configure = null)
    {
        var options = new FcmOptions { BaseAddress = _server.BaseAddress };
        options.Http.TrustedCertificate = _server.Certificate;
        configure?.Invoke(options);
        return new FcmGateway(FcmCredentials.FromServiceAccountJson(_server.ServiceAccountJson), options, _clock);
    }

    private static PushMessage Message(string id = "m-1") => new()
    {
        MessageId = id,
        Title = "Spring sale",
        Body = "20% off until Sunday",
        ImageUrl = "https://cdn.example.com/sale.png",
        Url = "https://shop.example.com/sale",
        Data = new Dictionary<string, string> { ["campaign"] = "spring" },
        TimeToLive = TimeSpan.FromHours(1),
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Notification_is_delivered_with_the_provider_message_id()
    {
        using var gateway = Gateway();

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered);
        outcome.ProviderMessageId.ShouldStartWith($"projects/{_server.ProjectId}/messages/");
        var shown = _server.Received.ShouldHaveSingleItem();
        shown.Token.ShouldBe("device-1");
        shown.Title.ShouldBe("Spring sale");
        shown.Body.ShouldBe("20% off until Sunday");
        shown.Image.ShouldBe("https://cdn.example.com/sale.png");
        shown.ClickAction.ShouldBe("https://shop.example.com/sale");
        shown.Data["campaign"].ShouldBe("spring");
        shown.Data["herald_message_id"].ShouldBe("m-1");
        shown.Ttl.ShouldBe("3600s");
        shown.Priority.ShouldBe("NORMAL");
    }

    [Fact]
    public async Task Collapse_key_and_tag_default_to_the_message_id_so_retries_replace()
    {
        using var gateway = Gateway();

        await gateway.SendAsync(new PushTarget("device-1"), Message("m-42"), Ct);
        await gateway.SendAsync(new PushTarget("device-2"), Message("m-43") with { CollapseKey = "weekly" }, Ct);

        var received = _server.Received;
        received[0].CollapseKey.ShouldBe("m-42");
        received[0].Tag.ShouldBe("m-42");
        received[1].CollapseKey.ShouldBe("weekly");
    }

    [Fact]
    public async Task High_priority_maps_to_android_HIGH()
    {
        using var gateway = Gateway();

        await gateway.SendAsync(new PushTarget("device-1"), Message() with { Priority = PushPriority.High }, Ct);

        _server.Received.ShouldHaveSingleItem().Priority.ShouldBe("HIGH");
    }

    [Fact]
    public async Task Recall_is_a_data_only_message_with_no_notification()
    {
        using var gateway = Gateway();

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), new PushMessage { MessageId = "m-7", Command = "recall" }, Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered);
        var received = _server.Received.ShouldHaveSingleItem();
        received.HasNotification.ShouldBeFalse();
        received.Message.GetProperty("android").TryGetProperty("notification", out _).ShouldBeFalse();
        received.Data.ShouldBe(new Dictionary<string, string> { ["herald_cmd"] = "recall", ["message_id"] = "m-7" });
    }

    [Fact]
    public async Task Unregistered_token_is_dead_and_not_retried()
    {
        using var gateway = Gateway();

        var outcome = await gateway.SendAsync(new PushTarget("dead-device"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.TokenDead);
        outcome.Reason.ShouldStartWith("UNREGISTERED");
        outcome.StatusCode.ShouldBe(404);
        _server.SendRequests.ShouldBe(1);
    }

    [Fact]
    public async Task Invalid_argument_refuses_the_message_without_blaming_the_device()
    {
        using var gateway = Gateway();
        _server.Inject("device-1", FcmFault.InvalidArgument);

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.Reason.ShouldStartWith("INVALID_ARGUMENT");
        _server.SendRequests.ShouldBe(1);
    }

    [Fact]
    public async Task Invalid_argument_naming_the_token_marks_the_token_dead()
    {
        using var gateway = Gateway();
        _server.Inject("not-a-token", FcmFault.InvalidToken);

        var outcome = await gateway.SendAsync(new PushTarget("not-a-token"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.TokenDead);
        outcome.Reason!.ShouldContain("message.token");
    }

    [Fact]
    public async Task Sender_id_mismatch_is_refused()
    {
        using var gateway = Gateway();
        _server.Inject("other-project-device", FcmFault.SenderIdMismatch);

        var outcome = await gateway.SendAsync(new PushTarget("other-project-device"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.Reason.ShouldStartWith("SENDER_ID_MISMATCH");
        outcome.StatusCode.ShouldBe(403);
    }

    [Fact]
    public async Task Quota_exceeded_backs_off_at_least_a_minute_and_doubles_per_attempt()
    {
        using var gateway = Gateway();
        _server.Inject("device-1", FcmFault.QuotaExceeded with { RetryAfter = TimeSpan.FromSeconds(5) });

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.Reason.ShouldStartWith("QUOTA_EXCEEDED");
        outcome.RetryAfter!.Value.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromMinutes(1));
        FcmGateway.RetryDelay(outcome, 1).ShouldBe(outcome.RetryAfter.Value);
        FcmGateway.RetryDelay(outcome, 2).ShouldBe(outcome.RetryAfter.Value * 2);
        FcmGateway.RetryDelay(outcome, 3).ShouldBe(outcome.RetryAfter.Value * 4);
    }

    [Fact]
    public async Task Unavailable_honors_retry_after()
    {
        using var gateway = Gateway();
        _server.Inject("device-1", FcmFault.Unavailable with { RetryAfter = TimeSpan.FromSeconds(7) });

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.RetryAfter.ShouldBe(TimeSpan.FromSeconds(7));
        outcome.StatusCode.ShouldBe(503);
    }

    [Fact]
    public async Task Internal_error_without_retry_after_retries_after_one_second_with_jitter()
    {
        using var gateway = Gateway();
        _server.Inject("device-1", FcmFault.Internal);

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.RetryAfter!.Value.ShouldBeInRange(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.2));
        FcmGateway.RetryDelay(outcome, 3).ShouldBe(outcome.RetryAfter.Value * 4);
    }

    [Fact]
    public async Task Third_party_auth_error_is_a_configuration_error()
    {
        using var gateway = Gateway();
        _server.Inject("device-1", FcmFault.ThirdPartyAuthError);

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError);
        outcome.Reason.ShouldStartWith("THIRD_PARTY_AUTH_ERROR");
        _server.SendRequests.ShouldBe(1);
    }

    [Fact]
    public async Task Token_endpoint_refusing_the_service_account_is_a_configuration_error()
    {
        using var gateway = Gateway();
        _server.TokenEndpointFault = OAuthTokenFault.InvalidGrant;

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError);
        outcome.Reason!.ShouldContain("invalid_grant");
        _server.SendRequests.ShouldBe(0);
    }

    [Fact]
    public async Task Token_endpoint_outage_is_retried_later()
    {
        using var gateway = Gateway();
        _server.TokenEndpointFault = OAuthTokenFault.ServerError;

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        _server.SendRequests.ShouldBe(0);
    }

    [Fact]
    public async Task One_access_token_serves_many_concurrent_sends()
    {
        using var gateway = Gateway();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => gateway.SendAsync(new PushTarget($"device-{i}"), Message($"m-{i}"), Ct)));

        outcomes.ShouldAllBe(o => o.Kind == OutcomeKind.Delivered);
        _server.TokenRequests.ShouldBe(1);
        gateway.AccessTokenRequests.ShouldBe(1);
        _server.Received.Select(r => r.Authorization).Distinct().ShouldHaveSingleItem();
    }

    [Fact]
    public async Task Access_token_is_refreshed_shortly_before_it_expires()
    {
        using var gateway = Gateway();
        await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        _clock.Advance(TimeSpan.FromMinutes(50));
        await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);
        _server.TokenRequests.ShouldBe(1);

        _clock.Advance(TimeSpan.FromMinutes(6)); // 56 min: inside the 5-minute margin of the 60-minute token
        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered);
        _server.TokenRequests.ShouldBe(2);
    }

    [Fact]
    public async Task Revoked_access_token_is_replaced_once_and_the_send_succeeds()
    {
        using var gateway = Gateway();
        await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);
        _server.RevokeAccessTokens();

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered);
        _server.TokenRequests.ShouldBe(2);
    }

    [Fact]
    public async Task Access_token_refused_twice_is_a_configuration_error()
    {
        using var gateway = Gateway();
        _server.Inject("device-1", FcmFault.Unauthenticated);

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError);
        _server.SendRequests.ShouldBe(2);
        _server.TokenRequests.ShouldBe(2);
    }

    [Theory]
    [InlineData("from")]
    [InlineData("message_type")]
    [InlineData("google.c.a.e")]
    [InlineData("gcm.notification.title")]
    [InlineData("herald_cmd")]
    public async Task Reserved_data_keys_are_refused_before_sending(string key)
    {
        using var gateway = Gateway();

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message() with { Data = new Dictionary<string, string> { [key] = "x" } }, Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.Reason!.ShouldContain(key);
        _server.SendRequests.ShouldBe(0);
        _server.TokenRequests.ShouldBe(0);
    }

    [Fact]
    public async Task Message_over_4096_bytes_is_refused_before_sending()
    {
        using var gateway = Gateway();

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message() with { Body = new string('x', 4100) }, Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.Reason!.ShouldContain("4096");
        _server.SendRequests.ShouldBe(0);
    }

    [Fact]
    public async Task Message_just_under_the_limit_is_accepted_by_the_server_too()
    {
        using var gateway = Gateway();
        var message = Message() with { Body = new string('x', 3500) };

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), message, Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered);
    }

    [Fact]
    public async Task Slow_endpoint_is_retry_later_not_token_dead()
    {
        using var gateway = Gateway(o => o.Http.RequestTimeout = TimeSpan.FromMilliseconds(300));
        await gateway.SendAsync(new PushTarget("warm-up"), Message(), Ct);
        _server.Inject("device-1", FcmFault.Hang);

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.Reason!.ShouldContain("timeout"); // the OAuth fetch may be what timed out on a loaded machine
    }

    [Fact]
    public async Task Unreachable_endpoint_is_retry_later()
    {
        var closedPort = new Uri("https://127.0.0.1:1");
        using var gateway = Gateway(o => o.TokenUri = closedPort);

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
    }

    [Fact]
    public async Task Untrusted_server_certificate_is_a_configuration_error()
    {
        using var gateway = Gateway(o => o.Http.TrustedCertificate = null);

        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError);
        outcome.Reason!.ShouldContain("TLS");
    }

    [Fact]
    public async Task Circuit_opens_after_repeated_configuration_errors_and_stops_calling_the_provider()
    {
        using var gateway = Gateway(o => o.Http.CircuitMinimumThroughput = 5);
        _server.GlobalFault = FcmFault.ThirdPartyAuthError;
        _server.GlobalFaultPercent = 100;

        for (var i = 0; i < 5; i++)
            (await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct)).Kind.ShouldBe(OutcomeKind.ConfigError);
        var outcome = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.Reason.ShouldStartWith("circuit open");
        outcome.Reason!.ShouldContain("THIRD_PARTY_AUTH_ERROR");
        _server.SendRequests.ShouldBe(5);
    }

    [Fact]
    public async Task Device_level_failures_do_not_open_the_circuit()
    {
        using var gateway = Gateway(o => o.Http.CircuitMinimumThroughput = 5);

        for (var i = 0; i < 10; i++)
            (await gateway.SendAsync(new PushTarget($"dead-{i}"), Message(), Ct)).Kind.ShouldBe(OutcomeKind.TokenDead);

        (await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct)).Kind.ShouldBe(OutcomeKind.Delivered);
    }

    [Fact]
    public async Task Global_failure_injection_fails_exactly_the_asked_share()
    {
        using var gateway = Gateway(o => o.Http.CircuitMinimumThroughput = 1000);
        _server.GlobalFault = FcmFault.Unavailable;
        _server.GlobalFaultPercent = 10;

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => gateway.SendAsync(new PushTarget($"device-{i}"), Message(), Ct)));

        outcomes.Count(o => o.Kind == OutcomeKind.RetryLater).ShouldBe(10);
        outcomes.Count(o => o.Kind == OutcomeKind.Delivered).ShouldBe(90);
    }

    [Fact]
    public async Task Local_quota_pacing_answers_retry_later_without_calling_the_provider()
    {
        using var gateway = Gateway(o => o.MessagesPerMinute = 120); // burst 2, then one every ~0.5 s

        var first = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);
        var second = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);
        var third = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);
        _clock.Advance(TimeSpan.FromSeconds(1));
        var fourth = await gateway.SendAsync(new PushTarget("device-1"), Message(), Ct);

        first.Kind.ShouldBe(OutcomeKind.Delivered);
        second.Kind.ShouldBe(OutcomeKind.Delivered);
        third.Kind.ShouldBe(OutcomeKind.RetryLater);
        third.RetryAfter!.Value.ShouldBeGreaterThan(TimeSpan.Zero);
        fourth.Kind.ShouldBe(OutcomeKind.Delivered);
        _server.SendRequests.ShouldBe(3);
    }
}
