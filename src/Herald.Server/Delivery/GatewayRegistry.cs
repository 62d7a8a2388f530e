using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Herald.Gateways;
using Herald.Gateways.Apns;
using Herald.Gateways.Email;
using Herald.Gateways.Fcm;
using Herald.Gateways.Http;
using Herald.Gateways.Sms;
using Herald.Gateways.WebPush;
using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Delivery;

/// <summary>Herald's channel names, as in credentials, channel errors and API answers.</summary>
public static class Channels
{
    public const string Fcm = "fcm";
    public const string Apns = "apns";
    public const string WebPush = "webpush";
    public const string Smtp = "smtp";
    public const string Sms = "sms";

    /// <summary>The push channel serving a device platform: ios → APNs, android → FCM, web → web push.</summary>
    public static string? ForPlatform(string platform) => platform switch
    {
        "ios" => Apns,
        "android" => Fcm,
        "web" => WebPush,
        _ => null,
    };
}

/// <summary>An app's email gateway and the sender address its SMTP credentials name.</summary>
public sealed record EmailChannel(SmtpEmailGateway Gateway, string From);

/// <summary>
/// Builds the gateway for an app and channel from the app's stored credentials (and its VAPID key
/// pair, and its email quota) and keeps it: a gateway holds pooled connections, an OAuth or provider
/// token and pacing state, so it must live across sends. Each look-up reads the app's row (one
/// primary-key query) and compares a fingerprint of what the gateway was built from, so new
/// credentials take effect on every node at the next send without any cross-node signal.
/// </summary>
public sealed partial class GatewayRegistry : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Db _db;
    private readonly GatewayOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<GatewayRegistry> _logger;
    private readonly HttpClient _http;
    private readonly ConcurrentDictionary<(long AppId, string Channel), Entry> _cache = new();
    private readonly Lock _gate = new();

    private sealed record Entry(string Fingerprint, object Gateway);

    private readonly Apps.SecretBox _secrets;

    private sealed record AppRow(string Credentials, string Settings, string VapidPublicKey, string VapidPrivateKey);

    public GatewayRegistry(Db db, IOptions<GatewayOptions> options, Apps.SecretBox secrets, TimeProvider clock, ILogger<GatewayRegistry> logger)
    {
        _db = db;
        _secrets = secrets;
        _options = options.Value;
        _clock = clock;
        _logger = logger;
        // Web push endpoints and SMS relays are many hosts; one pooled handler serves them all. The
        // gateways apply their own timeouts (from the clock), so the client's is off.
        _http = new HttpClient(ProviderHttp.CreateHandler(_options.ToProviderHttp())) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The push gateway of <paramref name="channel"/> (fcm, apns, webpush) for the app.</summary>
    /// <exception cref="ProblemException">409 when the app has no credentials for the channel.</exception>
    public async Task<IPushGateway> PushAsync(long appId, string channel, CancellationToken ct)
    {
        var app = await LoadAsync(appId, ct);
        switch (channel)
        {
            case Channels.Fcm:
            {
                var c = Require(app, Channels.Fcm, "fcm", "{serviceAccountJson}");
                return Get(appId, channel, Fingerprint(c.ToJsonString()), () =>
                {
                    var credentials = Parse(Channels.Fcm, () => FcmCredentials.FromServiceAccountJson(Str(c, "serviceAccountJson")));
                    return new FcmGateway(credentials, _options.ToFcm(), _clock);
                });
            }
            case Channels.Apns:
            {
                var c = Require(app, Channels.Apns, "apns", "{keyId, teamId, bundleId, privateKeyP8, sandbox}");
                return Get(appId, channel, Fingerprint(c.ToJsonString()), () =>
                {
                    var credentials = new ApnsCredentials(Str(c, "teamId"), Str(c, "keyId"), Str(c, "privateKeyP8"), Str(c, "bundleId"));
                    var sandbox = c["sandbox"]?.GetValue<bool>() ?? false;
                    return new ApnsGateway(credentials, _options.ToApns(sandbox), _clock);
                });
            }
            case Channels.WebPush:
            {
                // The key pair is the app's own (made with the app); only the contact subject is configured.
                var c = Require(app, Channels.WebPush, "vapid", "{subject: \"mailto:…\"} (the VAPID contact web push services require; the key pair is the app's own)");
                return Get(appId, channel, Fingerprint(c.ToJsonString(), app.Row.VapidPublicKey, app.Row.VapidPrivateKey), () =>
                    new WebPushGateway(_http, new WebPushOptions
                    {
                        VapidPublicKey = app.Row.VapidPublicKey,
                        VapidPrivateKey = app.Row.VapidPrivateKey,
                        Subject = Str(c, "subject"),
                        RequestTimeout = _options.WebPushTimeout,
                    }, _clock));
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(channel), channel, "Push channels are fcm, apns and webpush.");
        }
    }

    /// <summary>The app's SMTP gateway, paced under its email limits (emailMaxPer24Hours, emailMaxPerSecond).</summary>
    public async Task<EmailChannel> EmailAsync(long appId, CancellationToken ct)
    {
        var app = await LoadAsync(appId, ct);
        var c = Require(app, Channels.Smtp, "smtp", "{host, port, from, username, password, startTls}");
        var limits = JsonSerializer.Deserialize<AppLimits>(app.Row.Settings, Json) ?? new AppLimits();
        var gateway = Get(appId, Channels.Smtp, Fingerprint(c.ToJsonString(), $"{limits.EmailMaxPer24Hours}/{limits.EmailMaxPerSecond}"), () =>
            new SmtpEmailGateway(new SmtpOptions
            {
                Host = Str(c, "host"),
                Port = c["port"]?.GetValue<int>() ?? 587,
                EnableSsl = c["startTls"]?.GetValue<bool>() ?? true,
                UserName = c["username"]?.GetValue<string>() is { Length: > 0 } u ? u : null,
                Password = c["password"]?.GetValue<string>(),
                Timeout = _options.EmailTimeout,
                Quota = new EmailQuota { Max24HourSend = limits.EmailMaxPer24Hours ?? -1, MaxSendRate = limits.EmailMaxPerSecond ?? -1 },
            }, _clock));
        return new EmailChannel(gateway, Str(c, "from"));
    }

    public async Task<HttpSmsGateway> SmsAsync(long appId, CancellationToken ct)
    {
        var app = await LoadAsync(appId, ct);
        var c = Require(app, Channels.Sms, "sms", "{url, from, authorization}");
        return Get(appId, Channels.Sms, Fingerprint(c.ToJsonString()), () =>
        {
            var options = new SmsOptions { Endpoint = new Uri(Str(c, "url")), From = Str(c, "from"), RequestTimeout = _options.SmsTimeout };
            // Stored as the Authorization header value the provider expects.
            if (c["authorization"]?.GetValue<string>() is { Length: > 0 } auth
                && AuthenticationHeaderValue.TryParse(auth, out var parsed) && parsed.Parameter is { } p)
            {
                if (parsed.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
                {
                    var pair = Encoding.UTF8.GetString(Convert.FromBase64String(p));
                    var colon = pair.IndexOf(':');
                    options.Auth = SmsAuthScheme.Basic;
                    options.UserName = colon < 0 ? pair : pair[..colon];
                    options.Password = colon < 0 ? "" : pair[(colon + 1)..];
                }
                else
                {
                    options.Auth = SmsAuthScheme.Bearer;
                    options.Token = p;
                }
            }
            return new HttpSmsGateway(_http, options, _clock);
        });
    }

    private T Get<T>(long appId, string channel, string fingerprint, Func<T> build) where T : class
    {
        var key = (appId, channel);
        if (_cache.TryGetValue(key, out var hit) && hit.Fingerprint == fingerprint) return (T)hit.Gateway;
        lock (_gate)
        {
            if (_cache.TryGetValue(key, out hit) && hit.Fingerprint == fingerprint) return (T)hit.Gateway;
            var gateway = build();
            _cache[key] = new Entry(fingerprint, gateway);
            if (hit is not null)
            {
                LogReplaced(_logger, appId, channel);
                _ = RetireAsync(hit.Gateway);
            }
            return gateway;
        }
    }

    // Sends still running on the old gateway finish first: it is disposed only after they must have timed out.
    private async Task RetireAsync(object gateway)
    {
        if (gateway is not IDisposable disposable) return;
        try
        {
            await Task.Delay(_options.Http.RequestTimeout * 2 + _options.EmailTimeout, _clock).ConfigureAwait(false);
        }
        finally
        {
            disposable.Dispose();
        }
    }

    private async Task<(AppRow Row, JsonObject Credentials)> LoadAsync(long appId, CancellationToken ct)
    {
        await using var conn = await _db.OpenAsync(ct);
        var row = await conn.QueryFirstOrDefaultAsync<AppRow>(
            "SELECT credentials AS Credentials, settings AS Settings, vapid_public_key AS VapidPublicKey, vapid_private_key AS VapidPrivateKey FROM apps WHERE id = @appId",
            new { appId }) ?? throw ProblemException.NotFound($"App {appId}");
        row = row with
        {
            Credentials = _secrets.Unprotect(row.Credentials, Apps.AppService.CredentialsContext(appId)),
            VapidPrivateKey = _secrets.Unprotect(row.VapidPrivateKey, Apps.AppService.VapidContext(appId)),
        };
        return (row, JsonNode.Parse(row.Credentials) as JsonObject ?? []);
    }

    private static JsonObject Require((AppRow Row, JsonObject Credentials) app, string channel, string credentialPath, string shape) =>
        app.Credentials[credentialPath] as JsonObject ?? throw NotConfigured(channel,
            $"The app has no {channel} credentials. Store them with PUT /api/v1/app/credentials/{credentialPath} {shape}.");

    public static ProblemException NotConfigured(string channel, string detail) =>
        new(StatusCodes.Status409Conflict, "Channel not configured", detail, channel);

    private static T Parse<T>(string channel, Func<T> parse)
    {
        try { return parse(); }
        catch (ArgumentException e)
        {
            throw NotConfigured(channel, $"The stored {channel} credentials cannot be used: {e.Message} Store them again.");
        }
    }

    private static string Str(JsonObject o, string name) => o[name]?.GetValue<string>() ?? "";

    private static string Fingerprint(params string[] parts) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\u0001', parts))));

    public void Dispose()
    {
        foreach (var entry in _cache.Values)
            (entry.Gateway as IDisposable)?.Dispose();
        _cache.Clear();
        _http.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "App {AppId}: {Channel} credentials changed; new gateway built")]
    private static partial void LogReplaced(ILogger logger, long appId, string channel);
}
