using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Herald.Gateways.WebPush;
using Herald.Sim.Providers.WebPush;

namespace Herald.Gateways.Tests.WebPush;

public class WebPushCryptoTests
{
    // RFC 8291 Appendix A.
    private const string Plaintext = "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24";
    private const string AsPublic = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    private const string AsPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    private const string UaPublic = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    private const string UaPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    private const string Salt = "DGv6ra1nlYgDCS1FRnbzlw";
    private const string AuthSecret = "BTBZMqHH6r4Tts7J_aSIgg";
    private const string Cek = "oIhVW04MRdy2XN9CiKLxTg";
    private const string Nonce = "4h_95klXJ5E_qnoN";
    private const string Body = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

    // RFC 8292 section 2.4.
    private const string RfcJwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1YiI6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUfnK9ojFwDXb1JrErtmysazNjjvW2L9OkSSHzvoD1oA";
    private const string RfcK = "BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs";

    private static byte[] B(string s) => Base64Url.DecodeFromChars(s);

    private static ECDiffieHellman Key(string publicKey, string privateKey)
    {
        var q = B(publicKey);
        return ECDiffieHellman.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            D = B(privateKey),
            Q = new ECPoint { X = q[1..33], Y = q[33..65] },
        });
    }

    [Fact]
    public void Encryption_reproduces_the_RFC_8291_appendix_A_body_byte_for_byte()
    {
        using var sender = Key(AsPublic, AsPrivate);

        var body = WebPushEncryption.Encrypt(B(Plaintext), B(UaPublic), B(AuthSecret), B(Salt), sender);

        body.Length.ShouldBe(144);
        Base64Url.EncodeToString(body).ShouldBe(Body);
    }

    [Fact]
    public void Key_derivation_matches_the_RFC_8291_CEK_and_nonce()
    {
        using var sender = Key(AsPublic, AsPrivate);
        using var ua = Key(UaPublic, UaPrivate);
        var ecdh = sender.DeriveRawSecretAgreement(ua.PublicKey);

        var (cek, nonce) = WebPushEncryption.DeriveKeys(ecdh, B(AuthSecret), B(UaPublic), B(AsPublic), B(Salt));

        Base64Url.EncodeToString(cek).ShouldBe(Cek);
        Base64Url.EncodeToString(nonce).ShouldBe(Nonce);
    }

    [Fact]
    public void The_loopback_user_agent_decrypts_the_RFC_body_to_the_RFC_plaintext()
    {
        using var ua = Key(UaPublic, UaPrivate);

        PushDecryptor.Decrypt(B(Body), ua, B(AuthSecret)).ShouldBe(B(Plaintext));
    }

    [Fact]
    public void A_fresh_encryption_uses_a_new_salt_and_key_and_still_decrypts()
    {
        using var ua = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var uaPublic = PushDecryptor.Point(ua.ExportParameters(false).Q);
        var auth = RandomNumberGenerator.GetBytes(16);
        var text = Encoding.UTF8.GetBytes("Merhaba dünya — şğıİ");

        var a = WebPushEncryption.Encrypt(text, uaPublic, auth);
        var b = WebPushEncryption.Encrypt(text, uaPublic, auth);

        a[..16].ShouldNotBe(b[..16]);
        a[21..86].ShouldNotBe(b[21..86]);
        PushDecryptor.Decrypt(a, ua, auth).ShouldBe(text);
        PushDecryptor.Decrypt(b, ua, auth).ShouldBe(text);
    }

    [Fact]
    public void Plaintext_over_3993_bytes_is_refused_and_3993_fits_one_4096_byte_record()
    {
        using var ua = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var uaPublic = PushDecryptor.Point(ua.ExportParameters(false).Q);
        var auth = RandomNumberGenerator.GetBytes(16);

        WebPushEncryption.Encrypt(new byte[3993], uaPublic, auth).Length.ShouldBe(16 + 4 + 1 + 65 + 4096 - 86);
        Should.Throw<ArgumentException>(() => WebPushEncryption.Encrypt(new byte[3994], uaPublic, auth));
    }

    [Fact]
    public void The_RFC_8292_example_token_verifies_with_its_public_key()
    {
        var claims = VapidVerifier.VerifyJwt(RfcJwt, RfcK, out var reason);

        reason.ShouldBeEmpty();
        claims.ShouldNotBeNull();
        claims.Audience.ShouldBe("https://push.example.net");
        claims.Expires.ShouldBe(1453523768);
        claims.Subject.ShouldBe("mailto:push@example.com");
    }

    [Fact]
    public void The_RFC_8292_example_token_fails_under_another_key()
    {
        VapidVerifier.VerifyJwt(RfcJwt, AsPublic, out var reason).ShouldBeNull();
        reason.ShouldContain("signature");
    }

    [Fact]
    public void Our_VAPID_header_verifies_and_carries_origin_expiry_and_subject()
    {
        var keys = VapidKeys.Generate();
        var clock = new ManualClock(DateTimeOffset.Parse("2030-01-01T00:00:00Z"));
        using var signer = new VapidSigner(keys, "mailto:ops@herald.example", clock);

        var header = signer.GetAuthorization(new Uri("https://push.example.net:8443/p/abc?x=1"));

        header.ShouldEndWith(", k=" + keys.PublicKey);
        var claims = VapidVerifier.Verify(header, out var reason);
        reason.ShouldBeEmpty();
        claims.ShouldNotBeNull();
        claims.Audience.ShouldBe("https://push.example.net:8443");
        claims.Subject.ShouldBe("mailto:ops@herald.example");
        claims.Expires.ShouldBe(clock.GetUtcNow().AddHours(12).ToUnixTimeSeconds());
    }

    [Fact]
    public void The_VAPID_token_is_reused_per_origin_until_near_expiry()
    {
        var clock = new ManualClock(DateTimeOffset.Parse("2030-01-01T00:00:00Z"));
        using var signer = new VapidSigner(VapidKeys.Generate(), "https://herald.example/contact", clock);
        var endpoint = new Uri("https://push.example.net/p/1");

        var first = signer.GetAuthorization(endpoint);
        signer.GetAuthorization(new Uri("https://push.example.net/p/2")).ShouldBe(first);
        signer.GetAuthorization(new Uri("https://other.example/p/1")).ShouldNotBe(first);

        clock.Advance(TimeSpan.FromHours(11));
        signer.GetAuthorization(endpoint).ShouldBe(first);
        clock.Advance(TimeSpan.FromMinutes(31));
        var renewed = signer.GetAuthorization(endpoint);
        renewed.ShouldNotBe(first);
        VapidVerifier.Verify(renewed, out _)!.Expires.ShouldBe(clock.GetUtcNow().AddHours(12).ToUnixTimeSeconds());
    }

    [Fact]
    public void Generated_VAPID_keys_are_a_65_byte_point_and_a_32_byte_scalar_that_belong_together()
    {
        var keys = VapidKeys.Generate();

        B(keys.PublicKey).Length.ShouldBe(65);
        B(keys.PublicKey)[0].ShouldBe((byte)4);
        B(keys.PrivateKey).Length.ShouldBe(32);
        using var _ = keys.ToECDsa();
        Should.Throw<CryptographicException>(() => new VapidKeys(VapidKeys.Generate().PublicKey, keys.PrivateKey).ToECDsa());
    }

    [Fact]
    public void A_VAPID_subject_that_is_not_mailto_or_https_is_refused()
    {
        Should.Throw<ArgumentException>(() => new VapidSigner(VapidKeys.Generate(), "ops@herald.example", TimeProvider.System));
    }
}
