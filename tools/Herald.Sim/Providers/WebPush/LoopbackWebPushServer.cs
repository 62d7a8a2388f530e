using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Herald.Sim.Providers.WebPush;

/// <summary>A subscription as the browser hands it to the site (PushSubscription.toJSON()).</summary>
public sealed record WebPushSubscription(string Endpoint, string P256dh, string Auth);

/// <summary>A push the server accepted: decrypted with the subscription's key, VAPID checked.</summary>
public sealed record ReceivedPush(string Endpoint, byte[] Payload, IReadOnlyDictionary<string, string> Headers, VapidClaims Vapid)
{
    public string PayloadText => Encoding.UTF8.GetString(Payload);
}

/// <summary>A push the server refused before any injected failure applied, and why.</summary>
public sealed record RejectedPush(string Endpoint, int Status, string Reason);

/// <summary>An answer to give instead of 201 for one subscription. <see cref="Hang"/> never answers.</summary>
public sealed record PushFailure(int Status, TimeSpan? RetryAfter = null, bool Hang = false)
{
    public static PushFailure Gone { get; } = new(410);
    public static PushFailure NotFound { get; } = new(404);
    public static PushFailure PayloadTooLarge { get; } = new(413);
    public static PushFailure ServerError { get; } = new(500);
    public static PushFailure Slow { get; } = new(0, Hang: true);
    public static PushFailure TooManyRequests(TimeSpan retryAfter) => new(429, retryAfter);
}

/// <summary>
/// A browser push service on 127.0.0.1 speaking RFC 8030: holds the subscriptions it created (with
/// the user agent's private key and auth secret), verifies VAPID like a real push service (RFC 8292
/// signature, aud, exp, and the applicationServerKey given at subscribe time), and decrypts every
/// push (RFC 8291), so a wrongly encrypted or signed push fails the test.
/// </summary>
public sealed class LoopbackWebPushServer : IAsyncDisposable
{
    private const int MaxBody = 4096;

    private sealed class Subscription(string id, ECDiffieHellman key, byte[] auth, string? applicationServerKey)
    {
        public string Id { get; } = id;
        public ECDiffieHellman Key { get; } = key;
        public byte[] Auth { get; } = auth;
        public string? ApplicationServerKey { get; } = applicationServerKey;
        public PushFailure? Failure { get; set; }
    }

    private readonly WebApplication _app;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Subscription> _subscriptions = new();
    private readonly ConcurrentQueue<ReceivedPush> _received = new();
    private readonly ConcurrentQueue<RejectedPush> _rejected = new();
    private readonly CancellationTokenSource _stopping = new();

    private LoopbackWebPushServer(WebApplication app, TimeProvider time)
    {
        _app = app;
        _time = time;
    }

    public Uri BaseAddress { get; private set; } = null!;
    public string Origin => BaseAddress.GetLeftPart(UriPartial.Authority);

    public IReadOnlyList<ReceivedPush> Received => [.. _received];
    public IReadOnlyList<RejectedPush> Rejected => [.. _rejected];
    public IReadOnlyList<ReceivedPush> ReceivedFor(string endpoint) => [.. _received.Where(p => p.Endpoint == endpoint)];

    public static async Task<LoopbackWebPushServer> StartAsync(TimeProvider? time = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new LoopbackWebPushServer(app, time ?? TimeProvider.System);
        app.MapPost("/push/{id}", server.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        server.BaseAddress = new Uri(app.Urls.First());
        return server;
    }

    /// <summary>
    /// What PushManager.subscribe returns. With <paramref name="applicationServerKey"/> (the VAPID
    /// public key the site subscribed with), pushes signed by any other key get 403, as in browsers.
    /// </summary>
    public WebPushSubscription CreateSubscription(string? applicationServerKey = null)
    {
        var key = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var auth = RandomNumberGenerator.GetBytes(16);
        var id = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(18));
        _subscriptions[id] = new Subscription(id, key, auth, applicationServerKey);
        return new WebPushSubscription(
            new Uri(BaseAddress, "/push/" + id).ToString(),
            Base64Url.EncodeToString(PushDecryptor.Point(key.ExportParameters(false).Q)),
            Base64Url.EncodeToString(auth));
    }

    /// <summary>Answer every later push to this subscription with <paramref name="failure"/> (null: accept again).</summary>
    public void SetFailure(string endpoint, PushFailure? failure) => Find(endpoint).Failure = failure;

    /// <summary>Forget the subscription, as when the user revokes permission: later pushes get 410.</summary>
    public void Unsubscribe(string endpoint)
    {
        if (_subscriptions.TryRemove(Find(endpoint).Id, out var s)) s.Key.Dispose();
    }

    private Subscription Find(string endpoint) =>
        _subscriptions[endpoint[(endpoint.LastIndexOf('/') + 1)..]];

    private async Task<IResult> HandleAsync(string id, HttpContext context)
    {
        string endpoint = new Uri(BaseAddress, "/push/" + id).ToString();
        if (!_subscriptions.TryGetValue(id, out var subscription))
            return Reject(endpoint, 410, "no such subscription");

        var vapid = VapidVerifier.Verify(context.Request.Headers.Authorization, out var reason);
        if (vapid is null) return Reject(endpoint, 401, reason);
        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        if (vapid.Audience != Origin) return Reject(endpoint, 401, $"aud '{vapid.Audience}' is not this origin '{Origin}'");
        if (vapid.Expires <= now) return Reject(endpoint, 401, "VAPID token expired");
        if (vapid.Expires > now + 24 * 3600) return Reject(endpoint, 401, "VAPID exp is more than 24 hours ahead");
        if (vapid.Subject is null || !(vapid.Subject.StartsWith("mailto:", StringComparison.Ordinal) || vapid.Subject.StartsWith("https:", StringComparison.Ordinal)))
            return Reject(endpoint, 401, "VAPID sub must be a mailto: or https: URI");
        if (subscription.ApplicationServerKey is { } expected && expected != vapid.PublicKey)
            return Reject(endpoint, 403, "VAPID key is not the applicationServerKey this subscription was created with");

        if (!long.TryParse(context.Request.Headers["TTL"], out var ttl) || ttl < 0)
            return Reject(endpoint, 400, "TTL header missing or invalid");
        if (context.Request.Headers.ContentEncoding != "aes128gcm")
            return Reject(endpoint, 400, "Content-Encoding must be aes128gcm");
        if (context.Request.Headers["Topic"] is { Count: > 0 } topic
            && (topic.ToString().Length > 32 || !topic.ToString().All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
            return Reject(endpoint, 400, "Topic must be at most 32 base64url characters");

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        if (buffer.Length > MaxBody) return Reject(endpoint, 413, $"body is {buffer.Length} bytes");

        byte[] payload;
        try
        {
            payload = PushDecryptor.Decrypt(buffer.ToArray(), subscription.Key, subscription.Auth);
        }
        catch (CryptographicException e)
        {
            return Reject(endpoint, 400, "cannot decrypt: " + e.Message);
        }

        if (subscription.Failure is { } failure)
        {
            if (failure.Hang)
            {
                using var either = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
                try { await Task.Delay(Timeout.Infinite, either.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
                return Results.StatusCode(503);
            }
            if (failure.RetryAfter is { } after)
                context.Response.Headers.RetryAfter = ((long)after.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.StatusCode(failure.Status);
        }

        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _received.Enqueue(new ReceivedPush(endpoint, payload, headers, vapid));
        context.Response.Headers.Location = new Uri(BaseAddress, "/message/" + Guid.NewGuid().ToString("N")).ToString();
        return Results.StatusCode(201);
    }

    private IResult Reject(string endpoint, int status, string reason)
    {
        _rejected.Enqueue(new RejectedPush(endpoint, status, reason));
        return Results.Text(reason, statusCode: status);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        foreach (var s in _subscriptions.Values) s.Key.Dispose();
        _stopping.Dispose();
    }
}
