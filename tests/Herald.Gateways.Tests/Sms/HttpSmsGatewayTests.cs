using System.Text;
using Herald.Gateways.Sms;
using Herald.Sim.Providers.Sms;

namespace Herald.Gateways.Tests.Sms;

public sealed class HttpSmsGatewayTests : IAsyncLifetime
{
    private LoopbackSmsServer _server = null!;
    private readonly HttpClient _http = new();

    public async ValueTask InitializeAsync() => _server = await LoopbackSmsServer.StartAsync("Bearer sms-secret");

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _http.Dispose();
    }

    private HttpSmsGateway Gateway(string token = "sms-secret", TimeSpan? timeout = null) => new(_http, new SmsOptions
    {
        Endpoint = _server.MessagesEndpoint,
        From = "HERALD",
        Auth = SmsAuthScheme.Bearer,
        Token = token,
        RequestTimeout = timeout ?? TimeSpan.FromSeconds(30),
    }, TimeProvider.System);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_accepted_SMS_is_delivered_with_the_provider_id_and_the_documented_request_shape()
    {
        var text = "Siparişiniz yola çıktı. İyi günler!";

        var outcome = await Gateway().SendAsync(new SmsMessage("+905321234567", text, "m-1"), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered, outcome.Reason);
        outcome.ProviderMessageId.ShouldBe("sms-1");
        var sms = _server.Received.ShouldHaveSingleItem();
        sms.ShouldBe(sms with { To = "+905321234567", From = "HERALD", Text = text, MessageId = "m-1", Encoding = "ucs2", Segments = 1 });
        sms.Headers["Authorization"].ShouldBe("Bearer sms-secret");
        sms.Headers["Content-Type"].ShouldStartWith("application/json");
    }

    [Fact]
    public async Task A_long_GSM_text_is_sent_as_gsm7_with_its_segment_count()
    {
        await Gateway().SendAsync(new SmsMessage("+447700900123", new string('x', 161), "m-2", From: "+447700900999"), Ct);

        var sms = _server.Received.ShouldHaveSingleItem();
        sms.Encoding.ShouldBe("gsm7");
        sms.Segments.ShouldBe(2);
        sms.From.ShouldBe("+447700900999");
    }

    [Fact]
    public async Task Basic_authentication_is_sent_when_configured()
    {
        await using var server = await LoopbackSmsServer.StartAsync("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("acct:pässword")));
        var gateway = new HttpSmsGateway(_http, new SmsOptions
        {
            Endpoint = server.MessagesEndpoint,
            From = "HERALD",
            Auth = SmsAuthScheme.Basic,
            UserName = "acct",
            Password = "pässword",
        }, TimeProvider.System);

        (await gateway.SendAsync(new SmsMessage("+905321234567", "hi", "m"), Ct)).Kind.ShouldBe(OutcomeKind.Delivered);
    }

    [Fact]
    public async Task Wrong_credentials_are_a_configuration_error()
    {
        var outcome = await Gateway(token: "wrong").SendAsync(new SmsMessage("+905321234567", "hi", "m"), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError);
        outcome.StatusCode.ShouldBe(401);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task Rate_limits_and_server_errors_are_retried_after_Retry_After(int status)
    {
        _server.SetFailure("+905321234567", new SmsFailure(status, TimeSpan.FromSeconds(42)));

        var outcome = await Gateway().SendAsync(new SmsMessage("+905321234567", "hi", "m"), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.RetryAfter.ShouldBe(TimeSpan.FromSeconds(42));
        outcome.StatusCode.ShouldBe(status);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(422)]
    public async Task A_refused_message_is_invalid_and_carries_the_provider_reason(int status)
    {
        _server.SetFailure("+905321234567", new SmsFailure(status, Body: "{\"error\":\"number not mobile\"}"));

        var outcome = await Gateway().SendAsync(new SmsMessage("+905321234567", "hi", "m"), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.Reason.ShouldNotBeNull().ShouldContain("number not mobile");
    }

    [Fact]
    public async Task A_slow_provider_is_retry_later()
    {
        _server.SetFailure("+905321234567", SmsFailure.Slow);

        var outcome = await Gateway(timeout: TimeSpan.FromMilliseconds(300)).SendAsync(new SmsMessage("+905321234567", "hi", "m"), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
    }

    [Theory]
    [InlineData("05321234567")]
    [InlineData("+0532")]
    [InlineData("not a number")]
    public async Task A_recipient_that_is_not_E164_is_invalid_without_sending(string to)
    {
        (await Gateway().SendAsync(new SmsMessage(to, "hi", "m"), Ct)).Kind.ShouldBe(OutcomeKind.Invalid);
        _server.Received.ShouldBeEmpty();
    }
}
