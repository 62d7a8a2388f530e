using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Herald.Gateways.Apns;
using Herald.Gateways.Fcm;
using Herald.Gateways.Http;
using Microsoft.Extensions.Options;

namespace Herald.Server.Delivery;

/// <summary>
/// Where the providers are and how Herald talks to them (section <c>Herald:Gateways</c>). Per-app
/// credentials live in the database; these settings are per installation. The base addresses exist
/// so tests and the device simulator can point Herald at loopback servers.
/// </summary>
public sealed class GatewayOptions
{
    public const string Section = "Herald:Gateways";

    public FcmSettings Fcm { get; set; } = new();
    public ApnsSettings Apns { get; set; } = new();
    public HttpSettings Http { get; set; } = new();

    /// <summary>A browser push service that has not answered by then is unavailable (retry later).</summary>
    public TimeSpan WebPushTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A whole SMTP send (connect, TLS, DATA) longer than this is retried later.</summary>
    public TimeSpan EmailTimeout { get; set; } = TimeSpan.FromSeconds(60);

    public TimeSpan SmsTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public sealed class FcmSettings
    {
        public Uri BaseAddress { get; set; } = new("https://fcm.googleapis.com");
        /// <summary>Overrides the service account's token_uri for every app (normally unset).</summary>
        public Uri? TokenUri { get; set; }
        /// <summary>Google's default per-project quota; Herald paces itself under it.</summary>
        public int? MessagesPerMinute { get; set; } = 600_000;
    }

    public sealed class ApnsSettings
    {
        public Uri BaseAddress { get; set; } = new("https://api.push.apple.com");
        /// <summary>Used for apps whose APNs credentials say sandbox (development builds).</summary>
        public Uri SandboxBaseAddress { get; set; } = new("https://api.sandbox.push.apple.com");
    }

    public sealed class HttpSettings
    {
        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);
        /// <summary>A provider slower than this is transient (RetryLater), never a dead token.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);
        /// <summary>In-flight requests per gateway (one gateway per app and credential).</summary>
        public int MaxConcurrentRequests { get; set; } = 256;
        /// <summary>
        /// A PEM file of extra server certificates to trust exactly (loopback provider servers of tests
        /// and the simulator). Leave unset in production: the system trust store decides.
        /// </summary>
        public string? TrustedCertificateFile { get; set; }
    }

    internal ProviderHttpOptions ToProviderHttp()
    {
        var o = new ProviderHttpOptions
        {
            ConnectTimeout = Http.ConnectTimeout,
            RequestTimeout = Http.RequestTimeout,
            MaxConcurrentRequests = Http.MaxConcurrentRequests,
        };
        if (Http.TrustedCertificateFile is { Length: > 0 } file)
        {
            var trust = LoadTrusted(file).Select(ProviderHttp.TrustOnly).ToArray();
            o.ServerCertificateValidation = (sender, cert, chain, errors) => trust.Any(t => t(sender, cert, chain, errors));
        }
        return o;
    }

    internal FcmOptions ToFcm() => new()
    {
        BaseAddress = Fcm.BaseAddress, TokenUri = Fcm.TokenUri, MessagesPerMinute = Fcm.MessagesPerMinute, Http = ToProviderHttp(),
    };

    internal ApnsOptions ToApns(bool sandbox) => new()
    {
        BaseAddress = sandbox ? Apns.SandboxBaseAddress : Apns.BaseAddress, Http = ToProviderHttp(),
    };

    internal static X509Certificate2[] LoadTrusted(string file)
    {
        var all = new X509Certificate2Collection();
        all.ImportFromPemFile(file);
        return [.. all];
    }
}

/// <summary>Fails start-up with the key that is wrong, so a bad setting never waits for the first send.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions o)
    {
        var errors = new List<string>();
        const string S = GatewayOptions.Section;
        void Absolute(Uri? u, string key)
        {
            if (u is not null && (!u.IsAbsoluteUri || (u.Scheme != "https" && u.Scheme != "http")))
                errors.Add($"{S}:{key} must be an absolute http(s) URL; got '{u}'.");
        }
        void Positive(TimeSpan t, string key)
        {
            if (t <= TimeSpan.Zero) errors.Add($"{S}:{key} must be a positive duration (e.g. 00:00:30); got {t}.");
        }
        Absolute(o.Fcm.BaseAddress, "Fcm:BaseAddress");
        Absolute(o.Fcm.TokenUri, "Fcm:TokenUri");
        Absolute(o.Apns.BaseAddress, "Apns:BaseAddress");
        Absolute(o.Apns.SandboxBaseAddress, "Apns:SandboxBaseAddress");
        if (o.Fcm.MessagesPerMinute is < 1) errors.Add($"{S}:Fcm:MessagesPerMinute must be positive or null; got {o.Fcm.MessagesPerMinute}.");
        Positive(o.Http.ConnectTimeout, "Http:ConnectTimeout");
        Positive(o.Http.RequestTimeout, "Http:RequestTimeout");
        Positive(o.WebPushTimeout, "WebPushTimeout");
        Positive(o.EmailTimeout, "EmailTimeout");
        Positive(o.SmsTimeout, "SmsTimeout");
        if (o.Http.MaxConcurrentRequests < 1) errors.Add($"{S}:Http:MaxConcurrentRequests must be at least 1; got {o.Http.MaxConcurrentRequests}.");
        if (o.Http.TrustedCertificateFile is { Length: > 0 } file)
        {
            try
            {
                if (GatewayOptions.LoadTrusted(file).Length == 0) errors.Add($"{S}:Http:TrustedCertificateFile '{file}' holds no PEM certificate.");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                errors.Add($"{S}:Http:TrustedCertificateFile '{file}' cannot be read as PEM certificates: {e.Message}");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
