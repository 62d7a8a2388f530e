using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace Herald.Sim.Providers;

/// <summary>An error FCM documents, answered on demand. <see cref="Delay"/> alone makes a slow success.</summary>
public sealed record FcmFault(int HttpStatus, string Status, string? ErrorCode, string Message)
{
    public TimeSpan? RetryAfter { get; init; }
    /// <summary>Adds a google.rpc.BadRequest field violation naming this field (e.g. "message.token").</summary>
    public string? FieldViolation { get; init; }
    /// <summary>Answer only after this long; <see cref="Timeout.InfiniteTimeSpan"/> never answers (the client must time out).</summary>
    public TimeSpan? Delay { get; init; }

    public static FcmFault Unregistered => new(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.");
    public static FcmFault InvalidArgument => new(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Request contains an invalid argument.");
    public static FcmFault InvalidToken => InvalidArgument with { Message = "The registration token is not a valid FCM registration token", FieldViolation = "message.token" };
    public static FcmFault SenderIdMismatch => new(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch");
    public static FcmFault QuotaExceeded => new(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric 'Send requests'.");
    public static FcmFault Unavailable => new(503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.");
    public static FcmFault Internal => new(500, "INTERNAL", "INTERNAL", "Internal error encountered.");
    public static FcmFault ThirdPartyAuthError => new(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service");
    public static FcmFault Unauthenticated => new(401, "UNAUTHENTICATED", null, "Request had invalid authentication credentials.");
    public static FcmFault Slow(TimeSpan delay) => new(200, "OK", null, "") { Delay = delay };
    public static FcmFault Hang => Slow(Timeout.InfiniteTimeSpan);
}

/// <summary>What the token endpoint answers instead of a token.</summary>
public sealed record OAuthTokenFault(int HttpStatus, string Error, string Description)
{
    public static OAuthTokenFault InvalidGrant => new(400, "invalid_grant", "Invalid JWT Signature.");
    public static OAuthTokenFault ServerError => new(500, "internal_failure", "Backend Error");
}

/// <summary>One messages:send the server accepted, as the device would get it.</summary>
public sealed record FcmReceived(string? Token, string? Authorization, JsonElement Message)
{
    public bool HasNotification => Message.TryGetProperty("notification", out _);
    public string? Title => Find("notification", "title");
    public string? Body => Find("notification", "body");
    public string? Image => Find("notification", "image");
    public string? CollapseKey => Find("android", "collapse_key");
    public string? Priority => Find("android", "priority");
    public string? Ttl => Find("android", "ttl");
    public string? Tag => Message.TryGetProperty("android", out var a) && a.TryGetProperty("notification", out var n) && n.TryGetProperty("tag", out var t) ? t.GetString() : null;
    public string? ClickAction => Message.TryGetProperty("android", out var a) && a.TryGetProperty("notification", out var n) && n.TryGetProperty("click_action", out var t) ? t.GetString() : null;
    public IReadOnlyDictionary<string, string> Data =>
        Message.TryGetProperty("data", out var data)
            ? data.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "")
            : new Dictionary<string, string>();

    private string? Find(string outer, string inner) =>
        Message.TryGetProperty(outer, out var o) && o.TryGetProperty(inner, out var v) ? v.GetString() : null;
}

/// <summary>
/// FCM HTTP v1 on loopback: an OAuth2 token endpoint that checks the service account's RS256
/// assertion, and messages:send that checks the bearer token and the message, then answers success
/// or the documented error wanted. Tokens starting with "dead-" are unregistered.
/// </summary>
public sealed partial class LoopbackFcmServer : IAsyncDisposable
{
    private const string Scope = "https://www.googleapis.com/auth/firebase.messaging";
    private const int MaxMessageBytes = 4096;

    private readonly WebApplication _app;
    private readonly RSA _serviceAccountKey;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _accessTokens = new();
    private readonly InjectedFaults<FcmFault> _faults = new();
    private readonly ConcurrentQueue<FcmReceived> _received = new();
    private readonly byte[] _namePrefix;
    private long _sendRequests;
    private long _tokenRequests;
    private long _messageIds;

    private LoopbackFcmServer(WebApplication app, Uri baseAddress, X509Certificate2 certificate, RSA key, string projectId, TimeProvider time)
    {
        _app = app;
        BaseAddress = baseAddress;
        Certificate = certificate;
        _serviceAccountKey = key;
        ProjectId = projectId;
        _time = time;
        _namePrefix = Encoding.UTF8.GetBytes($"{{\"name\":\"projects/{projectId}/messages/0:");
    }

    public Uri BaseAddress { get; }
    public Uri TokenUri => new(BaseAddress, "/token");
    /// <summary>The server's self-signed certificate, for the client's <c>TrustedCertificate</c>.</summary>
    public X509Certificate2 Certificate { get; }
    public string ProjectId { get; }
    public string ClientEmail => $"herald-sender@{ProjectId}.iam.gserviceaccount.com";

    /// <summary>A service-account key file for this server, as Firebase console would hand it out.</summary>
    public string ServiceAccountJson => JsonSerializer.Serialize(new Dictionary<string, string>
    {
        ["type"] = "service_account",
        ["project_id"] = ProjectId,
        ["private_key_id"] = "loopback-key-1",
        ["private_key"] = _serviceAccountKey.ExportPkcs8PrivateKeyPem(),
        ["client_email"] = ClientEmail,
        ["token_uri"] = TokenUri.AbsoluteUri,
    });

    /// <summary>Off for benchmarks: counting is enough there.</summary>
    public bool RecordRequests { get; set; } = true;
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromHours(1);
    /// <summary>When set, the token endpoint refuses every assertion with this.</summary>
    public OAuthTokenFault? TokenEndpointFault { get; set; }
    /// <summary>Answered to <see cref="GlobalFaultPercent"/> percent of sends (deterministically: n of every 100).</summary>
    public FcmFault? GlobalFault { get; set; }
    public int GlobalFaultPercent { get; set; }

    public long SendRequests => Interlocked.Read(ref _sendRequests);
    public long TokenRequests => Interlocked.Read(ref _tokenRequests);
    public IReadOnlyList<FcmReceived> Received => _received.ToArray();

    public static async Task<LoopbackFcmServer> StartAsync(string projectId = "herald-loopback", TimeProvider? time = null)
    {
        var certificate = PushLoopbackHost.CreateCertificate();
        var key = RSA.Create(2048);
        LoopbackFcmServer? server = null;
        var (app, address) = await PushLoopbackHost.StartAsync(certificate, context => server!.HandleAsync(context)).ConfigureAwait(false);
        server = new LoopbackFcmServer(app, address, certificate, key, projectId, time ?? TimeProvider.System);
        return server;
    }

    /// <summary>Answer sends to <paramref name="token"/> with <paramref name="fault"/>, the next <paramref name="times"/> times.</summary>
    public void Inject(string token, FcmFault fault, int times = int.MaxValue) => _faults.Inject(token, fault, times);

    /// <summary>Every access token issued so far stops working (the client must fetch a new one).</summary>
    public void RevokeAccessTokens() => _accessTokens.Clear();

    private Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (HttpMethods.IsPost(context.Request.Method))
        {
            if (path == "/token")
                return TokenAsync(context);
            if (path.StartsWith("/v1/projects/", StringComparison.Ordinal) && path.EndsWith("/messages:send", StringComparison.Ordinal))
                return SendAsync(context, path["/v1/projects/".Length..^"/messages:send".Length]);
        }
        return ErrorAsync(context.Response, new FcmFault(404, "NOT_FOUND", null, $"No such method: {context.Request.Method} {path}"));
    }

    private async Task TokenAsync(HttpContext context)
    {
        Interlocked.Increment(ref _tokenRequests);
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        if (TokenEndpointFault is { } fault)
        {
            await OAuthErrorAsync(context.Response, fault.HttpStatus, fault.Error, fault.Description).ConfigureAwait(false);
            return;
        }
        if (form["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            await OAuthErrorAsync(context.Response, 400, "unsupported_grant_type", "Invalid grant_type: " + form["grant_type"]).ConfigureAwait(false);
            return;
        }
        if (CheckAssertion(form["assertion"].ToString()) is { } problem)
        {
            await OAuthErrorAsync(context.Response, 400, "invalid_grant", problem).ConfigureAwait(false);
            return;
        }
        var accessToken = "ya29.loopback-" + Guid.NewGuid().ToString("N");
        _accessTokens[accessToken] = _time.GetUtcNow() + AccessTokenLifetime;
        var json = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["access_token"] = accessToken,
            ["expires_in"] = (int)AccessTokenLifetime.TotalSeconds,
            ["token_type"] = "Bearer",
        });
        await PushLoopbackHost.WriteAsync(context.Response, 200, json).ConfigureAwait(false);
    }

    /// <summary>What Google checks of a service-account assertion: RS256 signature by the account's key, iss, scope, aud, iat/exp.</summary>
    private string? CheckAssertion(string assertion)
    {
        var parts = assertion.Split('.');
        if (parts.Length != 3)
            return "assertion is not a JWT";
        try
        {
            using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
            if (header.RootElement.GetProperty("alg").GetString() != "RS256")
                return "alg must be RS256";
            var signed = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
            if (!_serviceAccountKey.VerifyData(signed, Base64Url.DecodeFromChars(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
                return "Invalid JWT Signature.";
            using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            var root = claims.RootElement;
            if (root.GetProperty("iss").GetString() != ClientEmail)
                return "iss is not the service account";
            // Google.Apis.Auth always signs for Google's canonical token URI, whatever URL it posts to.
            if (root.GetProperty("aud").GetString() is not { } aud || (aud != TokenUri.AbsoluteUri && aud != "https://oauth2.googleapis.com/token"))
                return "aud must be the token URI " + TokenUri.AbsoluteUri + ", was " + root.GetProperty("aud").GetString();
            if (!(root.GetProperty("scope").GetString() ?? "").Split(' ').Contains(Scope))
                return "scope lacks " + Scope;
            var iat = root.GetProperty("iat").GetInt64();
            var exp = root.GetProperty("exp").GetInt64();
            var now = _time.GetUtcNow().ToUnixTimeSeconds();
            if (iat > now + 300 || exp <= now || exp - iat > 3600)
                return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.";
            return null;
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            return "malformed assertion: " + e.Message;
        }
    }

    private async Task SendAsync(HttpContext context, string project)
    {
        var n = Interlocked.Increment(ref _sendRequests);
        var request = context.Request;
        var authorization = request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal)
            || !_accessTokens.TryGetValue(authorization[7..], out var expires) || expires <= _time.GetUtcNow())
        {
            await ErrorAsync(context.Response, FcmFault.Unauthenticated).ConfigureAwait(false);
            return;
        }
        if (project != ProjectId)
        {
            await ErrorAsync(context.Response, new FcmFault(403, "PERMISSION_DENIED", null, $"Permission denied on project {project}.")).ConfigureAwait(false);
            return;
        }
        var body = await PushLoopbackHost.ReadBodyAsync(request, context.RequestAborted).ConfigureAwait(false);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            await ErrorAsync(context.Response, FcmFault.InvalidArgument with { Message = "Invalid JSON payload received. " + e.Message }).ConfigureAwait(false);
            return;
        }
        using (document)
        {
            if (!document.RootElement.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
            {
                await ErrorAsync(context.Response, FcmFault.InvalidArgument with { FieldViolation = "message", Message = "message is required" }).ConfigureAwait(false);
                return;
            }
            var token = message.TryGetProperty("token", out var t) ? t.GetString() : null;
            if (Validate(message, body.Length - (token?.Length ?? 0)) is { } violation)
            {
                await ErrorAsync(context.Response, FcmFault.InvalidArgument with { FieldViolation = violation.Field, Message = violation.Description }).ConfigureAwait(false);
                return;
            }
            var fault = token is null ? null : FaultFor(token);
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
                await ErrorAsync(context.Response, fault).ConfigureAwait(false);
                return;
            }
            if (RecordRequests)
                _received.Enqueue(new FcmReceived(token, authorization, message.Clone()));
        }
        await SuccessAsync(context.Response).ConfigureAwait(false);
    }

    private FcmFault? FaultFor(string token)
    {
        if (token.StartsWith("dead-", StringComparison.Ordinal))
            return FcmFault.Unregistered;
        return _faults.Take(token);
    }

    /// <summary>The checks FCM makes of a message that matter to Herald's requests.</summary>
    private static (string Field, string Description)? Validate(JsonElement message, int sizeWithoutToken)
    {
        var targets = (message.TryGetProperty("token", out _) ? 1 : 0) + (message.TryGetProperty("topic", out _) ? 1 : 0) + (message.TryGetProperty("condition", out _) ? 1 : 0);
        if (targets != 1)
            return ("message", "exactly one of token, topic or condition is required");
        if (sizeWithoutToken > MaxMessageBytes)
            return ("message", $"Message is too big ({sizeWithoutToken} bytes; limit {MaxMessageBytes})");
        if (message.TryGetProperty("notification", out var notification))
        {
            foreach (var field in notification.EnumerateObject())
            {
                if (field.Name is not ("title" or "body" or "image") || field.Value.ValueKind != JsonValueKind.String)
                    return ("message.notification." + field.Name, "Invalid notification field");
            }
        }
        if (message.TryGetProperty("data", out var data))
        {
            foreach (var field in data.EnumerateObject())
            {
                if (field.Value.ValueKind != JsonValueKind.String)
                    return ("message.data." + field.Name, "data values must be strings");
                if (field.Name is "from" or "message_type" || field.Name.StartsWith("google", StringComparison.OrdinalIgnoreCase) || field.Name.StartsWith("gcm", StringComparison.OrdinalIgnoreCase))
                    return ("message.data", $"Invalid data payload key: {field.Name}");
            }
        }
        if (message.TryGetProperty("android", out var android))
        {
            if (android.TryGetProperty("priority", out var priority) && priority.GetString() is not ("NORMAL" or "HIGH"))
                return ("message.android.priority", "priority must be NORMAL or HIGH");
            if (android.TryGetProperty("ttl", out var ttl) && !TtlFormat().IsMatch(ttl.GetString() ?? ""))
                return ("message.android.ttl", "Invalid duration, expected seconds with up to nine fractional digits ending in 's'");
            if (android.TryGetProperty("collapse_key", out var collapse) && collapse.ValueKind != JsonValueKind.String)
                return ("message.android.collapse_key", "collapse_key must be a string");
        }
        return null;
    }

    [GeneratedRegex(@"^\d+(\.\d{1,9})?s$")]
    private static partial Regex TtlFormat();

    private Task SuccessAsync(HttpResponse response)
    {
        var id = Interlocked.Increment(ref _messageIds);
        Span<byte> json = stackalloc byte[_namePrefix.Length + 24];
        _namePrefix.CopyTo(json);
        id.TryFormat(json[_namePrefix.Length..], out var written);
        var end = _namePrefix.Length + written;
        json[end++] = (byte)'"';
        json[end++] = (byte)'}';
        return PushLoopbackHost.WriteAsync(response, 200, json[..end]);
    }

    private static Task ErrorAsync(HttpResponse response, FcmFault fault)
    {
        if (fault.RetryAfter is { } retryAfter)
            response.Headers.RetryAfter = ((int)retryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var details = new List<object>();
        if (fault.ErrorCode is not null)
            details.Add(new Dictionary<string, object> { ["@type"] = "type.googleapis.com/google.firebase.fcm.v1.FcmError", ["errorCode"] = fault.ErrorCode });
        if (fault.FieldViolation is not null)
        {
            details.Add(new Dictionary<string, object>
            {
                ["@type"] = "type.googleapis.com/google.rpc.BadRequest",
                ["fieldViolations"] = new[] { new Dictionary<string, string> { ["field"] = fault.FieldViolation, ["description"] = fault.Message } },
            });
        }
        var json = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["error"] = new Dictionary<string, object> { ["code"] = fault.HttpStatus, ["message"] = fault.Message, ["status"] = fault.Status, ["details"] = details },
        });
        return PushLoopbackHost.WriteAsync(response, fault.HttpStatus, json);
    }

    private static Task OAuthErrorAsync(HttpResponse response, int status, string error, string description) =>
        PushLoopbackHost.WriteAsync(response, status, JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["error"] = error, ["error_description"] = description }));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _serviceAccountKey.Dispose();
        Certificate.Dispose();
    }
}
