using System.Net;
using System.Net.Sockets;
using Herald.Gateways.Email;

namespace Herald.Gateways.Tests.Email;

public class SmtpEmailGatewayTests
{
    private const string Subject = "Şubat kampanyası: İstanbul'a özel %20 indirim — ğüşıöç ĞÜŞİÖÇ";
    private const string Text = "Merhaba Ayşe,\nİndirim kodunuz: ŞUBAT20. Çok yakında görüşmek üzere!\nıİğĞşŞçÇöÖüÜ";
    private const string Html = "<html><body><h1>Merhaba Ayşe</h1><p>İndirim kodunuz: <b>ŞUBAT20</b> — ıİğĞşŞçÇöÖüÜ</p></body></html>";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static SmtpEmailGateway Gateway(SmtpTestServer server, Action<SmtpOptions>? configure = null)
    {
        var options = new SmtpOptions { Host = server.Host, Port = server.Port, EnableSsl = false, Timeout = TimeSpan.FromSeconds(30) };
        configure?.Invoke(options);
        return new SmtpEmailGateway(options, TimeProvider.System);
    }

    private static EmailMessage Message(string to = "ayse@example.com.tr", string id = "m-1") =>
        new(to, "kampanya@herald.example", Subject, Html, Text, id) { FromName = "Herald Mağaza" };

    [Fact]
    public async Task Turkish_subject_and_bodies_arrive_exactly_as_HTML_and_text_alternatives()
    {
        await using var server = await SmtpTestServer.StartAsync();

        var outcome = await Gateway(server).SendAsync(Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered, outcome.Reason);
        var mail = server.Messages().ShouldHaveSingleItem();
        mail.MailFrom.ShouldBe("kampanya@herald.example");
        mail.RcptTos.ShouldBe(["ayse@example.com.tr"]);
        mail.Subject.ShouldBe(Subject);
        mail.Headers["From"].ShouldContain("Herald Mağaza");
        mail.Headers["X-Herald-Message-Id"].ShouldBe("m-1");
        mail.ContentType.ShouldBe("multipart/alternative");
        mail.Parts.Count.ShouldBe(2);
        mail.Parts[0].ContentType.ShouldBe("text/plain");
        mail.Parts[0].Charset.ShouldBe("utf-8");
        mail.Parts[0].Content.ReplaceLineEndings("\n").TrimEnd('\n').ShouldBe(Text);
        mail.Parts[1].ContentType.ShouldBe("text/html");
        mail.Parts[1].Content.ReplaceLineEndings("\n").TrimEnd('\n').ShouldBe(Html);
        // Nothing but ASCII on the wire: the subject is RFC 2047-encoded, the bodies base64.
        mail.Raw.All(c => c < 128).ShouldBeTrue();
    }

    [Fact]
    public async Task A_text_only_email_is_a_single_UTF_8_part()
    {
        await using var server = await SmtpTestServer.StartAsync();

        var outcome = await Gateway(server).SendAsync(Message() with { Html = null }, Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered, outcome.Reason);
        var part = server.Messages().ShouldHaveSingleItem().Parts.ShouldHaveSingleItem();
        part.ContentType.ShouldBe("text/plain");
        part.Content.ReplaceLineEndings("\n").TrimEnd('\n').ShouldBe(Text);
    }

    [Fact]
    public async Task A_throttled_email_is_retry_later_and_the_retry_is_delivered_never_lost()
    {
        await using var server = await SmtpTestServer.StartAsync(new SmtpServerSettings(ThrottleFirst: 1));
        var gateway = Gateway(server);

        var first = await gateway.SendAsync(Message(), Ct);

        first.Kind.ShouldBe(OutcomeKind.RetryLater);
        first.StatusCode.ShouldBe(454);
        first.RetryAfter.ShouldBe(TimeSpan.FromSeconds(1));
        first.Reason.ShouldNotBeNull().ShouldContain("Maximum sending rate exceeded");
        server.Messages().ShouldBeEmpty();

        var retry = await gateway.SendAsync(Message(), Ct);

        retry.Kind.ShouldBe(OutcomeKind.Delivered, retry.Reason);
        server.Messages().ShouldHaveSingleItem().Subject.ShouldBe(Subject);
    }

    [Fact]
    public async Task A_recipient_throttled_at_RCPT_is_retry_later()
    {
        await using var server = await SmtpTestServer.StartAsync(new SmtpServerSettings(ThrottleRcpt: "^slow@"));

        var outcome = await Gateway(server).SendAsync(Message("slow@example.com"), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater);
        outcome.StatusCode.ShouldBe(454);
    }

    [Fact]
    public async Task A_bad_mailbox_is_invalid_and_tells_the_caller_to_suppress_the_address()
    {
        await using var server = await SmtpTestServer.StartAsync(new SmtpServerSettings(RejectRcpt: "^nobody@"));

        var outcome = await Gateway(server).SendAsync(Message("nobody@example.com"), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Invalid);
        outcome.StatusCode.ShouldBe(550);
        SmtpEmailGateway.SuppressesRecipient(outcome).ShouldBeTrue();
        server.Messages().ShouldBeEmpty();
    }

    [Fact]
    public async Task Valid_credentials_authenticate_and_deliver()
    {
        await using var server = await SmtpTestServer.StartAsync(new SmtpServerSettings(Auth: "ses-user:ses-pass"));

        var outcome = await Gateway(server, o => { o.UserName = "ses-user"; o.Password = "ses-pass"; }).SendAsync(Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered, outcome.Reason + server.Log);
        server.Messages().ShouldHaveSingleItem().Authenticated.ShouldBeTrue();
    }

    [Fact]
    public async Task Rejected_credentials_are_a_configuration_error()
    {
        await using var server = await SmtpTestServer.StartAsync(new SmtpServerSettings(Auth: "ses-user:ses-pass"));

        var outcome = await Gateway(server, o => { o.UserName = "ses-user"; o.Password = "wrong"; }).SendAsync(Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError, outcome.Reason + server.Log);
        SmtpEmailGateway.SuppressesRecipient(outcome).ShouldBeFalse();
        server.Messages().ShouldBeEmpty();
    }

    [Fact]
    public async Task A_refused_connection_is_retry_later()
    {
        // A port that was free a moment ago: nothing listens there.
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var gateway = new SmtpEmailGateway(new SmtpOptions { Host = "127.0.0.1", Port = port, EnableSsl = false }, TimeProvider.System);

        var outcome = await gateway.SendAsync(Message(), Ct);

        outcome.Kind.ShouldBe(OutcomeKind.RetryLater, outcome.Reason);
    }

    [Fact]
    public async Task Over_the_configured_rate_the_gateway_answers_retry_later_without_contacting_the_relay()
    {
        await using var server = await SmtpTestServer.StartAsync();
        var clock = new ManualClock(DateTimeOffset.Parse("2030-01-01T00:00:00Z"));
        var gateway = new SmtpEmailGateway(new SmtpOptions
        {
            Host = server.Host, Port = server.Port, EnableSsl = false,
            Quota = new EmailQuota { MaxSendRate = 1, Max24HourSend = 200 },
        }, clock);

        (await gateway.SendAsync(Message(id: "a"), Ct)).Kind.ShouldBe(OutcomeKind.Delivered);
        var paced = await gateway.SendAsync(Message(id: "b"), Ct);
        clock.Advance(TimeSpan.FromSeconds(1));
        var later = await gateway.SendAsync(Message(id: "b"), Ct);

        paced.Kind.ShouldBe(OutcomeKind.RetryLater);
        paced.RetryAfter.ShouldBe(TimeSpan.FromSeconds(1));
        later.Kind.ShouldBe(OutcomeKind.Delivered);
        server.Messages().Select(m => m.Headers["X-Herald-Message-Id"]).ShouldBe(["a", "b"]);
    }

    [Theory]
    [InlineData("not-an-address")]
    [InlineData("")]
    public async Task A_malformed_recipient_is_invalid_without_sending(string to)
    {
        var gateway = new SmtpEmailGateway(new SmtpOptions { Host = "127.0.0.1", Port = 1, EnableSsl = false }, TimeProvider.System);

        (await gateway.SendAsync(Message(to), Ct)).Kind.ShouldBe(OutcomeKind.Invalid);
    }
}

/// <summary>STARTTLS against aiosmtpd with a throwaway self-signed certificate.</summary>
public class SmtpStartTlsTests
{
    [Fact]
    public async Task STARTTLS_with_credentials_delivers_over_an_encrypted_connection()
    {
        string dir = Directory.CreateTempSubdirectory("herald-tls-").FullName;
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=herald-test-smtp", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        var san = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(dir, "cert.pem"), cert.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "key.pem"), key.ExportPkcs8PrivateKeyPem());

        await using var server = await SmtpTestServer.StartAsync(new SmtpServerSettings(
            Auth: "ses-user:ses-pass", TlsCert: Path.Combine(dir, "cert.pem"), TlsKey: Path.Combine(dir, "key.pem")));
        var gateway = new SmtpEmailGateway(new SmtpOptions
        {
            Host = server.Host, Port = server.Port, EnableSsl = true, UserName = "ses-user", Password = "ses-pass",
        }, TimeProvider.System);

        SendOutcome outcome;
        using (TrustOnly(cert.GetCertHashString()))
            outcome = await gateway.SendAsync(new EmailMessage("ayse@example.com.tr", "k@herald.example", "Şifreli", null, "Gizli ı", "tls-1"), TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.Delivered, outcome.Reason + server.Log);
        var mail = server.Messages().ShouldHaveSingleItem();
        mail.Tls.ShouldBeTrue();
        mail.Authenticated.ShouldBeTrue();
        mail.Subject.ShouldBe("Şifreli");
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task Without_STARTTLS_a_relay_that_requires_it_is_a_configuration_error()
    {
        string dir = Directory.CreateTempSubdirectory("herald-tls-").FullName;
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=herald-test-smtp", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(dir, "cert.pem"), cert.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "key.pem"), key.ExportPkcs8PrivateKeyPem());
        await using var server = await SmtpTestServer.StartAsync(new SmtpServerSettings(TlsCert: Path.Combine(dir, "cert.pem"), TlsKey: Path.Combine(dir, "key.pem")));
        var gateway = new SmtpEmailGateway(new SmtpOptions { Host = server.Host, Port = server.Port, EnableSsl = false }, TimeProvider.System);

        var outcome = await gateway.SendAsync(new EmailMessage("a@example.com", "k@herald.example", "s", null, "t", "m"), TestContext.Current.CancellationToken);

        outcome.Kind.ShouldBe(OutcomeKind.ConfigError, outcome.Reason);
        outcome.StatusCode.ShouldBe(530);
        Directory.Delete(dir, recursive: true);
    }

    // System.Net.Mail validates the server certificate only through the process-wide
    // ServicePointManager callback; trust exactly this test's certificate, and only while sending.
    private static Restore TrustOnly(string thumbprint)
    {
#pragma warning disable SYSLIB0014 // SmtpClient has no per-client validation hook; this is the one it reads.
        var previous = ServicePointManager.ServerCertificateValidationCallback;
        ServicePointManager.ServerCertificateValidationCallback = (_, cert, _, errors) =>
            errors == System.Net.Security.SslPolicyErrors.None || (cert is not null && cert.GetCertHashString() == thumbprint);
        return new Restore(() => ServicePointManager.ServerCertificateValidationCallback = previous);
#pragma warning restore SYSLIB0014
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
