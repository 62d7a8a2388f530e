using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Dapper;
using Herald.Gateways.Email;
using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Delivery;

public sealed record SesWebhookCreated(string Url, string Token)
{
    public string Note => "Store this URL now: Herald keeps only the token's hash. Subscribe it (HTTPS) to the SNS topic of the SES configuration set's bounces and complaints.";
}

public sealed record SesWebhookStatus(bool Configured, string Path);

public sealed record SesWebhookResult(string Type, int Recipients, int Suppressed, bool? SubscriptionConfirmed = null);

/// <summary>
/// Amazon SES bounce and complaint notifications (via SNS, or posted directly) for one app. The
/// caller proves itself with the app's secret token in the URL; SNS message signatures are not
/// checked, so the token is the whole defence and is stored only as a hash.
/// </summary>
public sealed partial class SesWebhook(Db db, DeliveryFeedback feedback, HttpClient snsClient, ILogger<SesWebhook> logger)
{
    public const int MaxBodyBytes = 256 * 1024;

    // SNS signs up a subscription by asking us to GET its SubscribeURL. Only follow a URL on Amazon's own
    // SNS hosts: anything else would let a caller holding the token make Herald fetch arbitrary URLs.
    [GeneratedRegex(@"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")]
    private static partial Regex SnsHost();

    public static string PathFor(long appId) => $"/webhooks/ses/{appId}";

    public async Task<SesWebhookCreated> CreateTokenAsync(long appId, HttpRequest request, CancellationToken ct)
    {
        var token = ApiKeys.NewSecret("hsw_");
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync("UPDATE apps SET ses_webhook_token_hash = @hash WHERE id = @appId", new { appId, hash = ApiKeys.Hash(token) });
        return new SesWebhookCreated($"{request.Scheme}://{request.Host}{PathFor(appId)}?token={token}", token);
    }

    public async Task<SesWebhookStatus> StatusAsync(long appId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var hash = await conn.ExecuteScalarAsync<string?>("SELECT ses_webhook_token_hash FROM apps WHERE id = @appId", new { appId });
        return new SesWebhookStatus(hash is not null, PathFor(appId) + "?token=…");
    }

    public static bool IsSnsSubscribeUrl(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme == Uri.UriSchemeHttps && u.IsDefaultPort && SnsHost().IsMatch(u.Host);

    public async Task<SesWebhookResult> ReceiveAsync(long appId, string? token, HttpRequest request, CancellationToken ct)
    {
        await AuthenticateAsync(appId, token, ct);
        var bytes = await RequestBody.ReadAsync(request, MaxBodyBytes, ct);
        SesNotification n;
        try
        {
            n = SesNotificationParser.Parse(new UTF8Encoding(false, true).GetString(bytes));
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException)
        {
            throw ProblemException.BadRequest($"Not an SES or SNS notification: {e.Message}", "body");
        }

        if (n.Type == SesNotificationType.SubscriptionConfirmation)
        {
            if (!IsSnsSubscribeUrl(n.SubscribeUrl))
                throw ProblemException.BadRequest($"SubscribeURL '{n.SubscribeUrl}' is not an https://sns.<region>.amazonaws.com address; Herald confirms only Amazon SNS subscriptions.", "SubscribeURL");
            using var res = await snsClient.GetAsync(n.SubscribeUrl, ct);
            if (!res.IsSuccessStatusCode)
                throw new ProblemException(StatusCodes.Status502BadGateway, "Subscription not confirmed",
                    $"Amazon SNS answered {(int)res.StatusCode} to the confirmation request; SNS will retry, or confirm it in the SNS console.");
            LogConfirmed(logger, appId);
            return new SesWebhookResult(n.Type.ToString(), 0, 0, SubscriptionConfirmed: true);
        }

        var suppressed = 0;
        var reason = n.Type == SesNotificationType.Complaint ? "ses complaint" : $"ses bounce {n.BounceType}/{n.BounceSubType}";
        foreach (var address in n.Suppress)
            suppressed += await feedback.SuppressEmailAsync(appId, address, reason, ct);
        return new SesWebhookResult(n.Type.ToString(), n.Recipients.Count, suppressed);
    }

    private async Task AuthenticateAsync(long appId, string? token, CancellationToken ct)
    {
        // Unknown app, no webhook set up and a wrong token all look the same to the caller.
        var refused = ProblemException.Unauthorized($"Missing or wrong token: use the URL from POST /api/v1/app/ses-webhook ({PathFor(appId)}?token=…).");
        if (string.IsNullOrEmpty(token) || token.Length > 200) throw refused;
        await using var conn = await db.OpenAsync(ct);
        var hash = await conn.ExecuteScalarAsync<string?>("SELECT ses_webhook_token_hash FROM apps WHERE id = @appId", new { appId });
        if (hash is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(hash), Encoding.ASCII.GetBytes(ApiKeys.Hash(token))))
            throw refused;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "App {AppId}: SNS subscription for SES notifications confirmed")]
    private static partial void LogConfirmed(ILogger logger, long appId);
}
