using System.Text.Json.Serialization;
using Dapper;
using Herald.Gateways;
using Herald.Gateways.Email;
using Herald.Gateways.Sms;
using Herald.Server.Identity;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Delivery;

public sealed record TestPushRequest(string? Title, string? Body, string? Url = null, Dictionary<string, string>? Data = null);

public sealed record TestEmailRequest(string? Subject, string? Html, string? Text);

public sealed record TestSmsRequest(string? Text);

/// <summary>The provider's answer to a test send, classified (see docs/delivery.md).</summary>
public sealed record TestSendResult(
    string Channel,
    [property: JsonConverter(typeof(JsonStringEnumConverter<OutcomeKind>))] OutcomeKind Outcome,
    string MessageId,
    string? ProviderMessageId,
    string? Reason,
    int? StatusCode,
    double? RetryAfterSeconds)
{
    /// <summary>The provider said the token is dead, so the device is now marked uninstalled.</summary>
    public bool DeviceUninstalled { get; init; }
    /// <summary>The relay refused the address itself (550/551/553), so it is now suppressed.</summary>
    public bool AddressSuppressed { get; init; }

    public static TestSendResult From(string channel, string messageId, SendOutcome o) =>
        new(channel, o.Kind, messageId, o.ProviderMessageId, o.Reason, o.StatusCode, o.RetryAfter?.TotalSeconds);
}

/// <summary>
/// One message to one device or user through the app's real gateway — the campaign wizard's Test
/// step, and today the way to exercise a channel end to end. The outcome is applied like any send's
/// (a dead token uninstalls the device), and opt-outs and suppression are respected.
/// </summary>
public sealed class TestSends(Db db, GatewayRegistry gateways, DeliveryFeedback feedback, IdentityStore identity, TimeProvider clock)
{
    public const int MaxTitle = 256;
    public const int MaxBody = 2048;
    public const int MaxDataKeys = 25;
    public const int MaxSubject = 998;
    public const int MaxSmsText = 1600;

    private sealed class DeviceRow
    {
        public int Ordinal { get; init; }
        public string Platform { get; init; } = "";
        public string? PushToken { get; init; }
        public string? PushP256dh { get; init; }
        public string? PushAuth { get; init; }
        public bool PushEnabled { get; init; }
        public long? UninstalledAt { get; init; }
        public string? UninstallReason { get; init; }
        public bool? OptInPush { get; init; }
    }

    public async Task<TestSendResult> PushAsync(long appId, string installationId, TestPushRequest request, CancellationToken ct)
    {
        var message = BuildPush(request);
        DeviceRow? device;
        await using (var conn = await db.OpenAsync(ct))
        {
            device = await conn.QueryFirstOrDefaultAsync<DeviceRow>(
                """
                SELECT d.ordinal AS Ordinal, d.platform AS Platform, d.push_token AS PushToken, d.push_p256dh AS PushP256dh,
                       d.push_auth AS PushAuth, d.push_enabled AS PushEnabled, d.uninstalled_at AS UninstalledAt,
                       d.uninstall_reason AS UninstallReason, u.optin_push AS OptInPush
                FROM devices d LEFT JOIN users u ON u.app_id = d.app_id AND u.ordinal = d.user_ordinal
                WHERE d.app_id = @appId AND d.installation_id = @installationId
                """, new { appId, installationId });
        }
        if (device is null) throw ProblemException.NotFound($"Device '{installationId}'");
        var channel = Channels.ForPlatform(device.Platform)
            ?? throw Conflict($"Device '{installationId}' is a {device.Platform} device; only ios, android and web devices receive push.", "platform");
        if (device.UninstalledAt is { } gone)
            throw Conflict($"Device '{installationId}' was marked uninstalled at {gone} (unix ms): {device.UninstallReason}. It becomes reachable when the app registers a new push token.", "uninstalledAt");
        if (string.IsNullOrEmpty(device.PushToken))
            throw Conflict($"Device '{installationId}' has no push token: the app has not registered one (POST /sdk/v1/devices with pushToken or webPush).", "pushToken");
        if (!device.PushEnabled)
            throw Conflict($"Device '{installationId}' has push disabled (the user did not allow notifications).", "pushEnabled");
        if (device.OptInPush == false)
            throw Conflict($"The user of device '{installationId}' opted out of push.", "optIn.push");

        var gateway = await gateways.PushAsync(appId, channel, ct);
        var outcome = await gateway.SendAsync(new PushTarget(device.PushToken, device.PushP256dh, device.PushAuth), message, ct);
        var uninstalled = await feedback.ApplyPushAsync(appId, device.Ordinal, channel, outcome, ct);
        return TestSendResult.From(channel, message.MessageId, outcome) with { DeviceUninstalled = uninstalled };
    }

    public async Task<TestSendResult> EmailAsync(long appId, string externalId, TestEmailRequest request, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.Subject)) throw ProblemException.BadRequest("subject is required.", "subject");
        if (request.Subject.Length > MaxSubject)
            throw ProblemException.BadRequest($"subject is {request.Subject.Length} characters; the limit is {MaxSubject}.", "subject", MaxSubject);
        if (string.IsNullOrEmpty(request.Html) && string.IsNullOrEmpty(request.Text))
            throw ProblemException.BadRequest("Give html, text or both.", "html");

        var user = await identity.GetUserAsync(appId, externalId, ct) ?? throw ProblemException.NotFound($"User '{externalId}'");
        if (string.IsNullOrEmpty(user.Email)) throw Conflict($"User '{externalId}' has no email address.", "email");
        if (!user.OptInEmail) throw Conflict($"User '{externalId}' opted out of email.", "optIn.email");
        if (user.EmailSuppressedAt is { } at)
            throw Conflict($"{user.Email} is suppressed since {at} (unix ms): {user.EmailSuppressionReason}. Herald sends no email to it; a new address lifts the suppression.", "email");

        var email = await gateways.EmailAsync(appId, ct);
        var messageId = NewMessageId();
        var outcome = await email.Gateway.SendAsync(new EmailMessage(user.Email, email.From, request.Subject, request.Html, request.Text, messageId), ct);
        var suppressed = await feedback.ApplyEmailAsync(appId, user.Email, outcome, ct);
        return TestSendResult.From(Channels.Smtp, messageId, outcome) with { AddressSuppressed = suppressed };
    }

    public async Task<TestSendResult> SmsAsync(long appId, string externalId, TestSmsRequest request, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.Text)) throw ProblemException.BadRequest("text is required.", "text");
        if (request.Text.Length > MaxSmsText)
            throw ProblemException.BadRequest($"text is {request.Text.Length} characters; the limit is {MaxSmsText}.", "text", MaxSmsText);

        var user = await identity.GetUserAsync(appId, externalId, ct) ?? throw ProblemException.NotFound($"User '{externalId}'");
        if (string.IsNullOrEmpty(user.Phone)) throw Conflict($"User '{externalId}' has no phone number.", "phone");
        if (!user.OptInSms) throw Conflict($"User '{externalId}' opted out of SMS.", "optIn.sms");

        var sms = await gateways.SmsAsync(appId, ct);
        var messageId = NewMessageId();
        var outcome = await sms.SendAsync(new SmsMessage(user.Phone, request.Text, messageId), ct);
        await feedback.ApplySmsAsync(appId, outcome, ct);
        return TestSendResult.From(Channels.Sms, messageId, outcome);
    }

    private PushMessage BuildPush(TestPushRequest r)
    {
        if (string.IsNullOrWhiteSpace(r.Title) && string.IsNullOrWhiteSpace(r.Body))
            throw ProblemException.BadRequest("Give a title, a body or both.", "title");
        if (r.Title is { Length: > MaxTitle }) throw ProblemException.BadRequest($"title is {r.Title.Length} characters; the limit is {MaxTitle}.", "title", MaxTitle);
        if (r.Body is { Length: > MaxBody }) throw ProblemException.BadRequest($"body is {r.Body.Length} characters; the limit is {MaxBody}.", "body", MaxBody);
        if (r.Url is not null && (!Uri.TryCreate(r.Url, UriKind.Absolute, out var u) || u.Scheme is "javascript" or "data" or "file"))
            throw ProblemException.BadRequest($"url must be an absolute URL or deeplink (https://…, myapp://…); got '{r.Url}'.", "url");
        var data = r.Data ?? [];
        if (data.Count > MaxDataKeys) throw ProblemException.BadRequest($"data has {data.Count} keys; the limit is {MaxDataKeys}.", "data", MaxDataKeys);
        foreach (var key in data.Keys)
            if (key.Length == 0 || key is "from" or "message_type" || key.StartsWith("google", StringComparison.Ordinal)
                || key.StartsWith("gcm", StringComparison.Ordinal) || key.StartsWith("herald_", StringComparison.Ordinal) || key == "aps")
                throw ProblemException.BadRequest($"data key '{key}' is reserved (from, message_type, google*, gcm*, aps, herald_*).", $"data.{key}");
        return new PushMessage
        {
            MessageId = NewMessageId(),
            Title = string.IsNullOrWhiteSpace(r.Title) ? null : r.Title,
            Body = string.IsNullOrWhiteSpace(r.Body) ? null : r.Body,
            Url = r.Url,
            Data = data,
            Priority = PushPriority.High,
            // A test is worth showing now or not at all.
            TimeToLive = TimeSpan.FromHours(1),
        };
    }

    private string NewMessageId() => $"test-{Guid.CreateVersion7(clock.GetUtcNow()):N}";

    private static ProblemException Conflict(string detail, string field) => new(StatusCodes.Status409Conflict, "Cannot send", detail, field);
}
