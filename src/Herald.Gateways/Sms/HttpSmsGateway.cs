using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Herald.Gateways.Sms;

/// <summary>
/// Sends SMS through an HTTP provider (or an operator's own relay) with one JSON POST per message:
/// <c>{"to","from","text","message_id","encoding","segments"}</c>.
/// </summary>
public sealed partial class HttpSmsGateway(HttpClient http, SmsOptions options, TimeProvider time)
{
    [GeneratedRegex(@"^\+[1-9][0-9]{7,14}$")]
    private static partial Regex E164();

    public async Task<SendOutcome> SendAsync(SmsMessage message, CancellationToken cancellationToken)
    {
        if (!E164().IsMatch(message.To))
            return SendOutcome.Refused($"SMS recipient '{message.To}' is not an E.164 number (+ country code and number).");
        if (string.IsNullOrEmpty(message.Text))
            return SendOutcome.Refused("SMS text is empty.");

        var segments = SmsSegments.Analyze(message.Text);
        var body = new Dictionary<string, object>
        {
            ["to"] = message.To,
            ["from"] = message.From ?? options.From,
            ["text"] = message.Text,
            ["message_id"] = message.MessageId,
            ["encoding"] = segments.Encoding == SmsEncoding.Gsm7 ? "gsm7" : "ucs2",
            ["segments"] = segments.Segments,
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, options.Endpoint) { Content = JsonContent.Create(body) };
        switch (options.Auth)
        {
            case SmsAuthScheme.Bearer:
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Token);
                break;
            case SmsAuthScheme.Basic:
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                    Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.UserName}:{options.Password}")));
                break;
        }

        using var timeout = new CancellationTokenSource(options.RequestTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            using var response = await http.SendAsync(request, linked.Token).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
                return SendOutcome.Delivered(await ReadIdAsync(response, linked.Token).ConfigureAwait(false), status);
            string detail = await ReadDetailAsync(response, linked.Token).ConfigureAwait(false);
            return response.StatusCode switch
            {
                HttpStatusCode.TooManyRequests => SendOutcome.Retry(RetryAfter(response) ?? options.DefaultRetryAfter, "SMS provider rate-limited the sender." + detail, status),
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => SendOutcome.Misconfigured("SMS provider rejected our credentials." + detail, status),
                _ when status >= 500 => SendOutcome.Retry(RetryAfter(response) ?? options.DefaultRetryAfter, $"SMS provider error {status}." + detail, status),
                _ => SendOutcome.Refused($"SMS provider refused the message with {status}." + detail, status),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return SendOutcome.Retry(options.DefaultRetryAfter, $"SMS provider did not answer within {options.RequestTimeout}.");
        }
        catch (HttpRequestException e)
        {
            return SendOutcome.Retry(options.DefaultRetryAfter, "SMS provider unreachable: " + e.Message);
        }
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        if (header?.Date is { } date) return date > time.GetUtcNow() ? date - time.GetUtcNow() : TimeSpan.Zero;
        return null;
    }

    private static async Task<string?> ReadIdAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("id", out var id))
                return id.ValueKind == JsonValueKind.Number ? id.GetRawText() : id.GetString();
        }
        catch (JsonException)
        {
            // A provider that answers 2xx with no JSON body still accepted the message.
        }
        return null;
    }

    private static async Task<string> ReadDetailAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(text)) return "";
        text = text.Trim();
        return " Provider said: " + (text.Length > 300 ? text[..300] + "…" : text);
    }
}
