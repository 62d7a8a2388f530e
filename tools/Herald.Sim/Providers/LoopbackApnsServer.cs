using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Herald.Sim.Providers;

/// <summary>An APNs error reason, answered on demand. <see cref="Delay"/> alone makes a slow success.</summary>
public sealed record ApnsFault(int HttpStatus, string Reason)
{
    public TimeSpan? RetryAfter { get; init; }
    /// <summary>Answer only after this long; <see cref="Timeout.InfiniteTimeSpan"/> never answers.</summary>
    public TimeSpan? Delay { get; init; }

    public static ApnsFault BadDeviceToken => new(400, "BadDeviceToken");
    public static ApnsFault DeviceTokenNotForTopic => new(400, "DeviceTokenNotForTopic");
    public static ApnsFault PayloadEmpty => new(400, "PayloadEmpty");
    public static ApnsFault BadTopic => new(400, "BadTopic");
    public static ApnsFault ExpiredProviderToken => new(403, "ExpiredProviderToken");
    public static ApnsFault InvalidProviderToken => new(403, "InvalidProviderToken");
    public static ApnsFault Unregistered => new(410, "Unregistered");
    public static ApnsFault ExpiredToken => new(410, "ExpiredToken");
    public static ApnsFault PayloadTooLarge => new(413, "PayloadTooLarge");
    public static ApnsFault TooManyProviderTokenUpdates => new(429, "TooManyProviderTokenUpdates");
    public static ApnsFault TooManyRequests => new(429, "TooManyRequests");
    public static ApnsFault InternalServerError => new(500, "InternalServerError");
    public static ApnsFault ServiceUnavailable => new(503, "ServiceUnavailable");
    public static ApnsFault Slow(TimeSpan delay) => new(200, "") { Delay = delay };
    public static ApnsFault Hang => Slow(Timeout.InfiniteTimeSpan);
}

/// <summary>One push the server accepted, as the device would get it.</summary>
public sealed record ApnsReceived(string Token, IReadOnlyDictionary<string, string> Headers, JsonElement Payload)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
    public string? PushType => Header("apns-push-type");
    public string? Priority => Header("apns-priority");
    public string? CollapseId => Header("apns-collapse-id");
    public string? Expiration => Header("apns-expiration");
    public string? ApnsId => Header("apns-id");
    public JsonElement Aps => Payload.GetProperty("aps");
    public string? Title => Aps.TryGetProperty("alert", out var a) && a.TryGetProperty("title", out var t) ? t.GetString() : null;
    public string? Body => Aps.TryGetProperty("alert", out var a) && a.TryGetProperty("body", out var b) ? b.GetString() : null;
    public bool ContentAvailable => Aps.TryGetProperty("content-available", out var c) && c.GetInt32() == 1;
    public bool MutableContent => Aps.TryGetProperty("mutable-content", out var c) && c.GetInt32() == 1;
    public string? Category => Aps.TryGetProperty("category", out var c) ? c.GetString() : null;
    public string? Custom(string key) => Payload.TryGetProperty(key, out var v) ? v.ToString() : null;
}

/// <summary>
/// The APNs provider API on loopback (HTTP/2 only, TLS): checks the ES256 provider token against the
/// .p8 key it hands out, the apns-* headers and the payload, then answers 200 with apns-id or any
/// documented reason on demand. Device tokens starting with "dead" are Unregistered.
/// </summary>
public sealed class LoopbackApnsServer : IAsyncDisposable
{
    private const int MaxPayloadBytes = 4096;
    private static readonly HashSet<string> PushTypes = ["alert", "background", "location", "voip", "complication", "fileprovider", "mdm", "liveactivity", "pushtotalk"];

    private readonly WebApplication _app;
    private readonly ECDsa _signingKey;
    private readonly TimeProvider _time;
    private readonly InjectedFaults<ApnsFault> _faults = new();
    private readonly ConcurrentDictionary<string, byte> _providerTokens = new();
    private readonly ConcurrentQueue<ApnsReceived> _received = new();
    private long _requests;

    private LoopbackApnsServer(WebApplication app, Uri baseAddress, X509Certificate2 certificate, ECDsa key, string topic, TimeProvider time)
    {
        _app = app;
        BaseAddress = baseAddress;
        Certificate = certificate;
        _signingKey = key;
        Topic = topic;
        _time = time;
    }

    public Uri BaseAddress { get; }
    public X509Certificate2 Certificate { get; }
    public string Topic { get; }
    public string TeamId => "HRLDTEAM01";
    public string KeyId => "HRLDKEY001";
    /// <summary>The .p8 content a developer account would hand out (PKCS#8 PEM, P-256).</summary>
    public string PrivateKeyPem => _signingKey.ExportPkcs8PrivateKeyPem();

    public bool RecordRequests { get; set; } = true;
    public ApnsFault? GlobalFault { get; set; }
    public int GlobalFaultPercent { get; set; }

    public long Requests => Interlocked.Read(ref _requests);
    public IReadOnlyList<ApnsReceived> Received => _received.ToArray();
    /// <summary>Distinct provider tokens presented (reuse keeps this small).</summary>
    public int DistinctProviderTokens => _providerTokens.Count;

    public static async Task<LoopbackApnsServer> StartAsync(string topic = "com.herald.demo", TimeProvider? time = null)
    {
        var certificate = PushLoopbackHost.CreateCertificate();
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        LoopbackApnsServer? server = null;
        var (app, address) = await PushLoopbackHost.StartAsync(certificate, context => server!.HandleAsync(context)).ConfigureAwait(false);
        server = new LoopbackApnsServer(app, address, certificate, key, topic, time ?? TimeProvider.System);
        return server;
    }

    /// <summary>Answer pushes to <paramref name="deviceToken"/> with <paramref name="fault"/>, the next <paramref name="times"/> times.</summary>
    public void Inject(string deviceToken, ApnsFault fault, int times = int.MaxValue) => _faults.Inject(deviceToken, fault, times);

    private async Task HandleAsync(HttpContext context)
    {
        var n = Interlocked.Increment(ref _requests);
        var request = context.Request;
        var response = context.Response;
        if (!HttpProtocol.IsHttp2(request.Protocol))
        {
            response.StatusCode = StatusCodes.Status505HttpVersionNotsupported;
            return;
        }
        var path = request.Path.Value ?? "";
        if (!path.StartsWith("/3/device/", StringComparison.Ordinal))
        {
            await ReasonAsync(response, 404, "BadPath").ConfigureAwait(false);
            return;
        }
        if (!HttpMethods.IsPost(request.Method))
        {
            await ReasonAsync(response, 405, "MethodNotAllowed").ConfigureAwait(false);
            return;
        }
        var token = path["/3/device/".Length..];
        var headers = request.Headers;
        var apnsId = headers["apns-id"].ToString();
        if (apnsId.Length > 0 && !Guid.TryParse(apnsId, out _))
        {
            await ReasonAsync(response, 400, "BadMessageId").ConfigureAwait(false);
            return;
        }
        if (apnsId.Length == 0)
            apnsId = Guid.NewGuid().ToString("D");
        response.Headers["apns-id"] = apnsId;

        var authorization = headers.Authorization.ToString();
        if (authorization.Length == 0)
        {
            await ReasonAsync(response, 403, "MissingProviderToken").ConfigureAwait(false);
            return;
        }
        if (CheckProviderToken(authorization) is { } tokenProblem)
        {
            await ReasonAsync(response, 403, tokenProblem).ConfigureAwait(false);
            return;
        }
        var topic = headers["apns-topic"].ToString();
        if (topic.Length == 0)
        {
            await ReasonAsync(response, 400, "MissingTopic").ConfigureAwait(false);
            return;
        }
        if (topic != Topic)
        {
            await ReasonAsync(response, 400, "TopicDisallowed").ConfigureAwait(false);
            return;
        }
        if (token.Length == 0 || token.Length % 2 != 0 || !token.All(char.IsAsciiHexDigit))
        {
            await ReasonAsync(response, 400, "BadDeviceToken").ConfigureAwait(false);
            return;
        }
        var pushType = headers["apns-push-type"].ToString();
        if (!PushTypes.Contains(pushType))
        {
            await ReasonAsync(response, 400, "InvalidPushType").ConfigureAwait(false);
            return;
        }
        var priority = headers["apns-priority"].ToString();
        if ((priority.Length > 0 && priority is not ("1" or "5" or "10")) || (pushType == "background" && priority == "10"))
        {
            await ReasonAsync(response, 400, "BadPriority").ConfigureAwait(false);
            return;
        }
        var expiration = headers["apns-expiration"].ToString();
        if (expiration.Length > 0 && !long.TryParse(expiration, out _))
        {
            await ReasonAsync(response, 400, "BadExpirationDate").ConfigureAwait(false);
            return;
        }
        if (Encoding.UTF8.GetByteCount(headers["apns-collapse-id"].ToString()) > 64)
        {
            await ReasonAsync(response, 400, "BadCollapseId").ConfigureAwait(false);
            return;
        }

        var body = await PushLoopbackHost.ReadBodyAsync(request, context.RequestAborted).ConfigureAwait(false);
        if (body.Length > MaxPayloadBytes)
        {
            await ReasonAsync(response, 413, "PayloadTooLarge").ConfigureAwait(false);
            return;
        }
        JsonDocument? payload = null;
        try
        {
            if (body.Length > 0)
                payload = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
        }
        using (payload)
        {
            if (payload is null || payload.RootElement.ValueKind != JsonValueKind.Object || !payload.RootElement.TryGetProperty("aps", out var aps) || aps.ValueKind != JsonValueKind.Object)
            {
                await ReasonAsync(response, 400, "PayloadEmpty").ConfigureAwait(false);
                return;
            }
            var fault = FaultFor(token);
            if (fault is null && GlobalFault is { } global && (n % 100) < GlobalFaultPercent)
                fault = global;
            if (fault?.Delay is { } delay)
            {
                await Task.Delay(delay, context.RequestAborted).ConfigureAwait(false);
                if (fault.HttpStatus == 200)
                    fault = null;
            }
            if (fault is not null)
            {
                if (fault.RetryAfter is { } retryAfter)
                    response.Headers.RetryAfter = ((int)retryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await ReasonAsync(response, fault.HttpStatus, fault.Reason).ConfigureAwait(false);
                return;
            }
            if (RecordRequests)
            {
                var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var (name, value) in headers)
                {
                    if (name.StartsWith("apns-", StringComparison.OrdinalIgnoreCase) || name.Equals("authorization", StringComparison.OrdinalIgnoreCase))
                        seen[name.ToLowerInvariant()] = value.ToString();
                }
                _received.Enqueue(new ApnsReceived(token, seen, payload.RootElement.Clone()));
            }
        }
        response.StatusCode = 200;
    }

    private ApnsFault? FaultFor(string token)
    {
        if (token.StartsWith("dead", StringComparison.OrdinalIgnoreCase))
            return ApnsFault.Unregistered;
        return _faults.Take(token);
    }

    /// <summary>Returns the 403 reason, or null for a good token: ES256 by our key, our kid and team, under an hour old.</summary>
    private string? CheckProviderToken(string authorization)
    {
        if (!authorization.StartsWith("bearer ", StringComparison.OrdinalIgnoreCase))
            return "MissingProviderToken";
        var jwt = authorization[7..];
        if (_providerTokens.ContainsKey(jwt))
            return CheckAge(jwt);
        var parts = jwt.Split('.');
        if (parts.Length != 3)
            return "InvalidProviderToken";
        try
        {
            using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
            if (header.RootElement.GetProperty("alg").GetString() != "ES256" || header.RootElement.GetProperty("kid").GetString() != KeyId)
                return "InvalidProviderToken";
            var signature = Base64Url.DecodeFromChars(parts[2]);
            if (signature.Length != 64 || !_signingKey.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
                return "InvalidProviderToken";
            using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            if (claims.RootElement.GetProperty("iss").GetString() != TeamId)
                return "InvalidProviderToken";
            claims.RootElement.GetProperty("iat").GetInt64();
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            return "InvalidProviderToken";
        }
        _providerTokens.TryAdd(jwt, 0);
        return CheckAge(jwt);
    }

    private string? CheckAge(string jwt)
    {
        var payload = jwt.AsSpan(jwt.IndexOf('.') + 1);
        payload = payload[..payload.IndexOf('.')];
        using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(payload));
        var age = _time.GetUtcNow().ToUnixTimeSeconds() - claims.RootElement.GetProperty("iat").GetInt64();
        if (age < -300)
            return "InvalidProviderToken";
        return age > 3600 ? "ExpiredProviderToken" : null;
    }

    private Task ReasonAsync(HttpResponse response, int status, string reason)
    {
        var json = status == 410
            ? JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["reason"] = reason, ["timestamp"] = _time.GetUtcNow().ToUnixTimeMilliseconds() })
            : JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["reason"] = reason });
        return PushLoopbackHost.WriteAsync(response, status, json);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _signingKey.Dispose();
        Certificate.Dispose();
    }
}
