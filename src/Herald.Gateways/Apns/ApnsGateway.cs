using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Gateways.Http;

namespace Herald.Gateways.Apns;

/// <summary>
/// Apple Push Notification service provider API over HTTP/2 with token (.p8) authentication, one
/// instance per key and topic (app).
/// </summary>
public sealed class ApnsGateway : IPushGateway, IDisposable
{
    private static readonly Version Http2 = new(2, 0);
    private const int MaxCollapseIdBytes = 64;

    private readonly ApnsCredentials _credentials;
    private readonly string _devicePath;
    private readonly HttpMessageInvoker _http;
    private readonly ApnsProviderToken _providerToken;
    private readonly SendGuard _guard;
    private readonly TimeProvider _time;
    private readonly TimeSpan _timeout;

    public ApnsGateway(ApnsCredentials credentials, ApnsOptions? options = null, TimeProvider? time = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        options ??= new ApnsOptions();
        options.Validate();
        if (string.IsNullOrWhiteSpace(credentials.Topic))
            throw new ArgumentException("The APNs topic (the app's bundle id) is required.", nameof(credentials));
        _credentials = credentials;
        _time = time ?? TimeProvider.System;
        _timeout = options.Http.RequestTimeout;
        _devicePath = new Uri(options.BaseAddress, "/3/device/").AbsoluteUri;
        _http = new HttpMessageInvoker(handler ?? ProviderHttp.CreateHandler(options.Http), disposeHandler: handler is null);
        _providerToken = new ApnsProviderToken(credentials, _time, options.ProviderTokenRefreshAfter);
        var quota = options.MessagesPerMinute is { } perMinute ? new TokenBucket(perMinute, TimeSpan.FromMinutes(1), time: _time) : null;
        _guard = new SendGuard(options.Http, quota, _time);
    }

    /// <summary>Provider tokens signed so far (Apple throttles needless refreshes).</summary>
    public int ProviderTokensIssued => _providerToken.Issued;

    /// <summary>The back-off before retry number <paramref name="attempt"/> of a RetryLater outcome.</summary>
    public static TimeSpan RetryDelay(SendOutcome outcome, int attempt) => Backoff.ForAttempt(outcome, attempt);

    public Task<SendOutcome> SendAsync(PushTarget target, PushMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(message);
        // A token that is not hex can never have come from iOS, and must not reach the URL path.
        if (!IsHex(target.Token))
            return Task.FromResult(SendOutcome.Dead("BadDeviceToken: not a hex device token"));
        var collapseId = message.CollapseKey ?? message.MessageId;
        if (Encoding.UTF8.GetByteCount(collapseId) > MaxCollapseIdBytes)
            return Task.FromResult(SendOutcome.Refused($"apns-collapse-id is over {MaxCollapseIdBytes} bytes: {collapseId}"));
        if (ApnsPayloadWriter.TryWrite(message, out var payload) is { } refusal)
            return Task.FromResult(SendOutcome.Refused(refusal));
        var request = new ApnsRequest(target.Token, message, collapseId, payload);
        return _guard.RunAsync(static (state, ct) => state.Self.SendOnceAsync(state.Request, ct), (Self: this, Request: request), cancellationToken);
    }

    private sealed record ApnsRequest(string Token, PushMessage Message, string CollapseId, byte[] Payload);

    private async ValueTask<SendOutcome> SendOnceAsync(ApnsRequest push, CancellationToken cancellationToken)
    {
        var background = push.Message.Command is not null;
        var apnsId = ApnsId(push.Message.MessageId).ToString("D");
        var providerToken = _providerToken.Current();
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _devicePath + push.Token)
            {
                Version = Http2,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new ByteArrayContent(push.Payload),
            };
            var headers = request.Headers;
            headers.TryAddWithoutValidation("authorization", providerToken.AuthorizationValue);
            headers.TryAddWithoutValidation("apns-topic", _credentials.Topic);
            headers.TryAddWithoutValidation("apns-push-type", background ? "background" : "alert");
            // Apple requires 5 for background pushes; 10 wakes the device at once.
            headers.TryAddWithoutValidation("apns-priority", !background && push.Message.Priority == PushPriority.High ? "10" : "5");
            headers.TryAddWithoutValidation("apns-collapse-id", push.CollapseId);
            headers.TryAddWithoutValidation("apns-id", apnsId);
            if (push.Message.TimeToLive is { } ttl)
            {
                // 0 means "deliver now or never"; otherwise APNs stores the push until this moment.
                var expiration = ttl <= TimeSpan.Zero ? 0 : (_time.GetUtcNow() + ttl).ToUnixTimeSeconds();
                headers.TryAddWithoutValidation("apns-expiration", expiration.ToString(CultureInfo.InvariantCulture));
            }
            request.Content.Headers.TryAddWithoutValidation("content-type", "application/json");

            var (answer, networkFailure) = await ProviderCall.SendAsync(_http, request, _timeout, cancellationToken).ConfigureAwait(false);
            if (networkFailure is not null)
                return networkFailure;
            if (answer.Status == 200)
                return SendOutcome.Delivered(answer.Headers.TryGetValues("apns-id", out var ids) ? ids.FirstOrDefault() : apnsId, 200);

            var reason = ReadReason(answer.Body);
            if (answer.Status == 403 && reason == "ExpiredProviderToken" && attempt == 0)
            {
                // Clocks disagree or the token outlived us: sign a new one once, then it is configuration.
                providerToken = _providerToken.Replace(providerToken);
                continue;
            }
            return Classify(answer, reason);
        }
    }

    private SendOutcome Classify(ProviderAnswer answer, string? reason)
    {
        var status = answer.Status;
        var text = reason ?? $"HTTP {status}";
        return (status, reason) switch
        {
            (400, "BadDeviceToken") => SendOutcome.Dead(text, status),
            // The token is real but belongs to another app (or environment): never retry, keep the device.
            (400, "DeviceTokenNotForTopic") => SendOutcome.Refused(text, status),
            (400, "BadTopic" or "TopicDisallowed" or "MissingTopic") => SendOutcome.Misconfigured($"{text} (apns-topic \"{_credentials.Topic}\")", status),
            (400, _) => SendOutcome.Refused(text, status),
            (403, _) => SendOutcome.Misconfigured($"{text} (team {_credentials.TeamId}, key {_credentials.KeyId})", status),
            (404 or 405, _) => SendOutcome.Misconfigured($"{text}: is the APNs base address right?", status),
            (410, _) => SendOutcome.Dead(text, status),
            (413, _) => SendOutcome.Refused(text, status),
            // Same device too often, or our token churn: wait a while; neither is the device's fault.
            (429, _) => SendOutcome.Retry(ProviderCall.RetryAfter(answer.Headers, _time) ?? Backoff.Exponential(TimeSpan.FromMinutes(1), 1), text, status),
            (>= 500, _) => SendOutcome.Retry(ProviderCall.RetryAfter(answer.Headers, _time) ?? Backoff.Exponential(TimeSpan.FromSeconds(1), 1), text, status),
            _ => SendOutcome.Refused(text, status),
        };
    }

    private static string? ReadReason(byte[] body)
    {
        if (body.Length == 0)
            return null;
        try
        {
            var reader = new Utf8JsonReader(body);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("reason"u8) && reader.Read())
                    return reader.GetString();
            }
        }
        catch (JsonException)
        {
        }
        return null;
    }

    /// <summary>apns-id: the message id when it is a UUID, else a name-based (v5-style) UUID of it, so a
    /// retried send carries the same id.</summary>
    internal static Guid ApnsId(string messageId)
    {
        if (Guid.TryParse(messageId, out var id))
            return id;
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(Encoding.UTF8.GetBytes("herald:" + messageId), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }

    private static bool IsHex(string token)
    {
        if (token.Length == 0 || token.Length % 2 != 0)
            return false;
        foreach (var c in token)
        {
            if (!char.IsAsciiHexDigit(c))
                return false;
        }
        return true;
    }

    public void Dispose()
    {
        _guard.Dispose();
        _providerToken.Dispose();
        _http.Dispose();
    }
}
