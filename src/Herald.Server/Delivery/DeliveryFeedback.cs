using Dapper;
using Herald.Gateways;
using Herald.Gateways.Email;
using Herald.Server.Alerts;
using Herald.Server.Storage;

namespace Herald.Server.Delivery;

/// <summary>A provider configuration error recorded for an app's channel (a class so Dapper maps either engine's integer types).</summary>
public sealed class ChannelErrorView
{
    public long Id { get; init; }
    public string Channel { get; init; } = "";
    public string Reason { get; init; } = "";
    public int? StatusCode { get; init; }
    public long OccurredAt { get; init; }
}

/// <summary>
/// What a provider's answer means for the data (R-DLV-2): a dead token marks the device uninstalled
/// (with the reason, push off); a timeout, a 429 or a 5xx blames nobody — a device that is merely
/// offline or a provider that is slow must never look uninstalled; a configuration error is recorded
/// against the app's channel, not a device. Email addresses that hard-bounce or complain are
/// suppressed.
/// </summary>
public sealed partial class DeliveryFeedback(Db db, AlertService alerts, TimeProvider clock, ILogger<DeliveryFeedback> logger)
{
    /// <summary>FCM expires Android tokens unused for 270 days; sending to them is wasted quota.</summary>
    public static readonly TimeSpan AndroidTokenStaleAfter = TimeSpan.FromDays(270);

    /// <summary>Applies a push outcome to the device it was sent to. True when the device was marked uninstalled now.</summary>
    public async Task<bool> ApplyPushAsync(long appId, int deviceOrdinal, string channel, SendOutcome outcome, CancellationToken ct)
    {
        switch (outcome.Kind)
        {
            case OutcomeKind.TokenDead:
                return await MarkUninstalledAsync(appId, deviceOrdinal, $"{channel}: {outcome.Reason ?? "token unregistered"}", ct);
            case OutcomeKind.ConfigError:
                await RecordChannelErrorAsync(appId, channel, outcome, ct);
                return false;
            default:
                // Delivered, RetryLater (offline, slow, throttled) and Invalid (this message was refused) say nothing
                // about whether the app is still installed.
                return false;
        }
    }

    /// <summary>Applies an email outcome. True when the address was suppressed now.</summary>
    public async Task<bool> ApplyEmailAsync(long appId, string address, SendOutcome outcome, CancellationToken ct)
    {
        if (outcome.Kind == OutcomeKind.ConfigError)
            await RecordChannelErrorAsync(appId, Channels.Smtp, outcome, ct);
        return SmtpEmailGateway.SuppressesRecipient(outcome)
            && await SuppressEmailAsync(appId, address, $"smtp {outcome.StatusCode}: {outcome.Reason}", ct) > 0;
    }

    public async Task ApplySmsAsync(long appId, SendOutcome outcome, CancellationToken ct)
    {
        if (outcome.Kind == OutcomeKind.ConfigError)
            await RecordChannelErrorAsync(appId, Channels.Sms, outcome, ct);
    }

    public async Task<bool> MarkUninstalledAsync(long appId, int deviceOrdinal, string reason, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var n = await conn.ExecuteAsync(
            """
            UPDATE devices SET uninstalled_at = @now, uninstall_reason = @reason, push_enabled = @off, updated_at = @now
            WHERE app_id = @appId AND ordinal = @deviceOrdinal AND uninstalled_at IS NULL
            """, new { appId, deviceOrdinal, reason = Clip(reason), off = false, now = Now });
        if (n > 0) LogUninstalled(logger, appId, deviceOrdinal, reason);
        return n > 0;
    }

    /// <summary>Suppresses an address for every user of the app that has it. Returns the users newly suppressed.</summary>
    public async Task<int> SuppressEmailAsync(long appId, string address, string reason, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var n = await conn.ExecuteAsync(
            """
            UPDATE users SET email_suppressed_at = @now, email_suppression_reason = @reason, updated_at = @now
            WHERE app_id = @appId AND lower(email) = lower(@address) AND email_suppressed_at IS NULL
            """, new { appId, address, reason = Clip(reason), now = Now });
        if (n > 0) LogSuppressed(logger, appId, n, reason);
        return n;
    }

    public async Task RecordChannelErrorAsync(long appId, string channel, SendOutcome outcome, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync(
            "INSERT INTO channel_errors (app_id, channel, reason, status_code, occurred_at) VALUES (@appId, @channel, @reason, @status, @now)",
            new { appId, channel, reason = Clip(outcome.Reason ?? "configuration error"), status = outcome.StatusCode, now = Now });
        LogChannelError(logger, appId, channel, outcome.Reason);
        await alerts.CredentialErrorAsync(appId, channel, outcome.Reason ?? "configuration error", outcome.StatusCode, ct);
    }

    public async Task<IReadOnlyList<ChannelErrorView>> ChannelErrorsAsync(long appId, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<ChannelErrorView>(
            """
            SELECT id AS Id, channel AS Channel, reason AS Reason, status_code AS StatusCode, occurred_at AS OccurredAt
            FROM channel_errors WHERE app_id = @appId ORDER BY occurred_at DESC, id DESC LIMIT @limit
            """, new { appId, limit });
        return rows.ToList();
    }

    /// <summary>True when a device's token is too old to send to (Android, not refreshed for 270 days).</summary>
    public static bool IsStale(string platform, long? tokenUpdatedAt, DateTimeOffset now) =>
        platform == "android" && tokenUpdatedAt is { } at && at < (now - AndroidTokenStaleAfter).ToUnixTimeMilliseconds();

    /// <summary>
    /// SQL condition (devices aliased <c>d</c>, parameter <c>@staleBefore</c> from <see cref="StaleBefore"/>)
    /// that keeps only devices whose token is not stale; the planner adds it to its audience query.
    /// </summary>
    public const string NotStaleSql = "(d.platform <> 'android' OR d.token_updated_at IS NULL OR d.token_updated_at >= @staleBefore)";

    public long StaleBefore => (clock.GetUtcNow() - AndroidTokenStaleAfter).ToUnixTimeMilliseconds();

    /// <summary>Installed Android devices whose token has not been refreshed for 270 days, oldest first.</summary>
    public async Task<IReadOnlyList<string>> StaleAndroidDevicesAsync(long appId, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var ids = await conn.QueryAsync<string>(
            """
            SELECT d.installation_id FROM devices d
            WHERE d.app_id = @appId AND d.platform = 'android' AND d.uninstalled_at IS NULL AND d.push_token IS NOT NULL
              AND d.token_updated_at < @staleBefore
            ORDER BY d.token_updated_at LIMIT @limit
            """, new { appId, staleBefore = StaleBefore, limit });
        return ids.ToList();
    }

    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    private static string Clip(string s) => s.Length <= 500 ? s : s[..500];

    [LoggerMessage(Level = LogLevel.Information, Message = "App {AppId}: device {DeviceOrdinal} marked uninstalled ({Reason})")]
    private static partial void LogUninstalled(ILogger logger, long appId, int deviceOrdinal, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "App {AppId}: email suppressed for {Users} user(s) ({Reason})")]
    private static partial void LogSuppressed(ILogger logger, long appId, int users, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "App {AppId}: {Channel} configuration error: {Reason}")]
    private static partial void LogChannelError(ILogger logger, long appId, string channel, string? reason);
}
