using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Herald.Gateways.WebPush;

/// <summary>
/// Sends to browser push services (RFC 8030) with RFC 8291 encryption and RFC 8292 VAPID.
/// <see cref="PushTarget.Token"/> is the subscription endpoint; P256dh and Auth its keys.
/// </summary>
public sealed class WebPushGateway : IPushGateway, IDisposable
{
    public const string RecallRefusedReason =
        "Web push cannot recall: a shown notification can only be closed by the site's own service worker, " +
        "and browsers require every push to show a notification, so a silent recall push is refused.";

    private readonly HttpClient _http;
    private readonly WebPushOptions _options;
    private readonly TimeProvider _time;
    private readonly VapidSigner _vapid;

    public WebPushGateway(HttpClient http, WebPushOptions options, TimeProvider time)
    {
        _http = http;
        _options = options;
        _time = time;
        _vapid = new VapidSigner(new VapidKeys(options.VapidPublicKey, options.VapidPrivateKey), options.Subject, time);
    }

    public async Task<SendOutcome> SendAsync(PushTarget target, PushMessage message, CancellationToken cancellationToken)
    {
        if (message.Command is not null)
            return SendOutcome.Refused(message.Command == "recall"
                ? RecallRefusedReason
                : $"Web push has no silent commands (browsers must show every push); command '{message.Command}' refused.");

        if (!Uri.TryCreate(target.Token, UriKind.Absolute, out var endpoint) || (endpoint.Scheme != Uri.UriSchemeHttps && endpoint.Scheme != Uri.UriSchemeHttp))
            return SendOutcome.Refused("Web push subscription endpoint is not an absolute https URL.");
        if (!TryDecode(target.P256dh, 65, out var uaPublic) || uaPublic[0] != 0x04)
            return SendOutcome.Refused("Web push subscription p256dh must be a base64url uncompressed P-256 key (65 bytes).");
        if (!TryDecode(target.Auth, 16, out var auth))
            return SendOutcome.Refused("Web push subscription auth must be a base64url 16-byte secret.");

        byte[] payload = BuildPayload(message, _options.IconUrl);
        if (payload.Length > WebPushEncryption.MaxPlaintextLength)
            return SendOutcome.Refused($"Web push payload is {payload.Length} bytes; the limit is {WebPushEncryption.MaxPlaintextLength} before encryption.");

        byte[] body;
        try
        {
            body = WebPushEncryption.Encrypt(payload, uaPublic, auth);
        }
        catch (CryptographicException e)
        {
            // A p256dh that is 65 bytes but not a point on the curve.
            return SendOutcome.Refused("Web push subscription p256dh is not a valid P-256 public key: " + e.Message);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(body) };
        var ttl = message.TimeToLive ?? _options.DefaultTimeToLive;
        request.Headers.TryAddWithoutValidation("TTL", ((long)Math.Max(0, ttl.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("Urgency", message.Priority == PushPriority.High ? "high" : "normal");
        request.Headers.TryAddWithoutValidation("Topic", Topic(message.CollapseKey ?? message.MessageId));
        request.Headers.TryAddWithoutValidation("Authorization", _vapid.GetAuthorization(endpoint));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        request.Content.Headers.ContentEncoding.Add("aes128gcm");

        using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return SendOutcome.Retry(_options.DefaultRetryAfter, $"Push service did not answer within {_options.RequestTimeout}.");
        }
        catch (HttpRequestException e)
        {
            return SendOutcome.Retry(_options.DefaultRetryAfter, "Push service unreachable: " + e.Message);
        }

        using (response)
            return Classify(response, _options.DefaultRetryAfter, _time);
    }

    internal static SendOutcome Classify(HttpResponseMessage response, TimeSpan defaultRetry, TimeProvider time)
    {
        int status = (int)response.StatusCode;
        return response.StatusCode switch
        {
            HttpStatusCode.Created or HttpStatusCode.OK or HttpStatusCode.Accepted =>
                SendOutcome.Delivered(response.Headers.Location?.ToString(), status),
            HttpStatusCode.NotFound or HttpStatusCode.Gone =>
                SendOutcome.Dead("Push subscription expired or unsubscribed.", status),
            HttpStatusCode.RequestEntityTooLarge =>
                SendOutcome.Refused("Push service refused the payload as too large (limit 4096 bytes).", status),
            HttpStatusCode.TooManyRequests =>
                SendOutcome.Retry(RetryAfter(response, time) ?? defaultRetry, "Push service rate-limited the sender.", status),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                SendOutcome.Misconfigured("Push service rejected the VAPID credentials (wrong key pair for this subscription, bad subject, or clock skew).", status),
            _ when status >= 500 =>
                SendOutcome.Retry(RetryAfter(response, time) ?? defaultRetry, $"Push service error {status}.", status),
            _ => SendOutcome.Refused($"Push service refused the request with {status} {response.ReasonPhrase}.", status),
        };
    }

    internal static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        if (header?.Date is { } date)
        {
            var wait = date - time.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }
        return null;
    }

    /// <summary>The JSON the Herald service worker reads from the push event.</summary>
    internal static byte[] BuildPayload(PushMessage message, string? iconUrl)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("title", message.Title);
            json.WriteString("body", message.Body);
            if (iconUrl is not null) json.WriteString("icon", iconUrl);
            json.WriteString("image", message.ImageUrl);
            json.WriteString("url", message.Url);
            json.WriteStartObject("data");
            foreach (var (key, value) in message.Data) json.WriteString(key, value);
            json.WriteEndObject();
            json.WriteStartArray("actions");
            foreach (var button in message.Buttons)
            {
                json.WriteStartObject();
                json.WriteString("action", button.Id);
                json.WriteString("title", button.Text);
                // Beyond the Notification API's {action,title}: what the click does, for the service worker.
                json.WriteString("type", button.Action);
                if (button.Target is not null) json.WriteString("target", button.Target);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteString("message_id", message.MessageId);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// RFC 8030 Topic: at most 32 characters of the base64url alphabet. A key that already fits is
    /// kept (readable in provider logs); anything else becomes 32 characters of its SHA-256.
    /// </summary>
    internal static string Topic(string key)
    {
        if (key.Length is > 0 and <= 32 && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            return key;
        return Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..32];
    }

    private static bool TryDecode(string? value, int length, out byte[] bytes)
    {
        bytes = [];
        if (string.IsNullOrWhiteSpace(value)) return false;
        // Browsers hand out base64url; some stores keep standard base64 with padding. Accept both.
        var normalized = value.Trim().TrimEnd('=').Replace('+', '-').Replace('/', '_');
        try
        {
            bytes = Base64Url.DecodeFromChars(normalized);
        }
        catch (FormatException)
        {
            return false;
        }
        return bytes.Length == length;
    }

    public void Dispose() => _vapid.Dispose();
}
