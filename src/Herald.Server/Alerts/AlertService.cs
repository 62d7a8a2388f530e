using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Dapper;
using Herald.Domain.Alerts;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Alerts;

/// <summary>An <c>alerts</c> row (a class so Dapper maps either engine's integer types).</summary>
public sealed class AlertRow
{
    public long Id { get; init; }
    public long AppId { get; init; }
    public string Kind { get; init; } = "";
    public long? CampaignId { get; init; }
    public string? CampaignName { get; init; }
    public string? Provider { get; init; }
    public string Reason { get; init; } = "";
    public string Reasons { get; init; } = "[]";
    public long Failed { get; init; }
    public long Total { get; init; }
    public double? Threshold { get; init; }
    public long OpenedAt { get; init; }
    public long LastSeenAt { get; init; }
    public long? ResolvedAt { get; init; }
    public int NotifyAttempts { get; init; }
    public string NotifiedTargets { get; init; } = "";
    public string? NotifyError { get; init; }
    public long? NotifiedAt { get; init; }

    internal const string Columns =
        """
        a.id AS Id, a.app_id AS AppId, a.kind AS Kind, a.campaign_id AS CampaignId, c.name AS CampaignName, a.provider AS Provider,
        a.reason AS Reason, a.reasons AS Reasons, a.failed AS Failed, a.total AS Total, a.threshold AS Threshold, a.opened_at AS OpenedAt,
        a.last_seen_at AS LastSeenAt, a.resolved_at AS ResolvedAt, a.notify_attempts AS NotifyAttempts, a.notified_targets AS NotifiedTargets,
        a.notify_error AS NotifyError, a.notified_at AS NotifiedAt
        FROM alerts a LEFT JOIN campaigns c ON c.app_id = a.app_id AND c.id = a.campaign_id
        """;

    public IReadOnlyList<ReasonCount> ReasonList => JsonSerializer.Deserialize<List<ReasonCount>>(Reasons, AlertService.Json) ?? [];

    public IReadOnlyList<string> Targets => NotifiedTargets.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public AlertView ToView() => new(Id, Kind, CampaignId, CampaignName, Provider, Reason, ReasonList, Failed, Total, Threshold,
        OpenedAt, LastSeenAt, ResolvedAt, NotifiedAt, Targets, NotifyError);
}

/// <summary>
/// Incidents (R-DLV-4): opening one at most once per key while it is open (the partial unique index
/// decides, so two nodes crossing the same threshold open one incident), keeping its counts current
/// while the condition lasts, resolving it after a quiet window, and each app's alert destinations.
/// </summary>
public sealed partial class AlertService(Db db, IOptions<AlertOptions> options, TimeProvider clock, ILogger<AlertService> logger)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly AlertOptions _o = options.Value;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    internal ChannelReader<bool> Wakes => _wake.Reader;

    /// <summary>Something is due for the notifier on this node: look now instead of at the next poll.</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>
    /// The rate for <paramref name="key"/> is over its threshold: opens an incident unless one is open, else
    /// records that the condition lasts (with the latest counts). True when an incident was opened now.
    /// </summary>
    public async Task<bool> RaiseAsync(long appId, string kind, string key, long? campaignId, string? provider, RateSnapshot s, double threshold, CancellationToken ct)
    {
        var reasons = JsonSerializer.Serialize(s.TopReasons, Json);
        var reason = s.TopReasons.Count > 0 ? s.TopReasons[0].Reason : "";
        await using var conn = await db.OpenAsync(ct);
        if (await OpenAsync(conn, appId, kind, key, campaignId, provider, reason, reasons, s.Failed, s.Total, threshold) is { } id)
        {
            LogOpened(logger, id, appId, kind, key, s.Failed, s.Total);
            return true;
        }
        await conn.ExecuteAsync(
            """
            UPDATE alerts SET last_seen_at = @now, failed = @failed, total = @total, reason = @reason, reasons = @reasons
            WHERE app_id = @appId AND incident_key = @key AND resolved_at IS NULL
            """, new { now = Now, failed = s.Failed, total = s.Total, reason, reasons, appId, key });
        return false;
    }

    /// <summary>A provider refused the app's credentials (a configuration error): one incident per channel while it lasts.</summary>
    public async Task<bool> CredentialErrorAsync(long appId, string channel, string reason, int? statusCode, CancellationToken ct)
    {
        if (!_o.Enabled) return false;
        var said = statusCode is { } code ? $"{code}: {reason}" : reason;
        said = said.Length <= RateWindow.MaxReasonLength ? said : said[..RateWindow.MaxReasonLength];
        var key = "credential:" + channel;
        var reasons = JsonSerializer.Serialize(new[] { new ReasonCount(said, 1) }, Json);
        await using var conn = await db.OpenAsync(ct);
        if (await OpenAsync(conn, appId, AlertKinds.CredentialError, key, null, channel, said, reasons, 1, 1, null) is { } id)
        {
            LogOpened(logger, id, appId, AlertKinds.CredentialError, key, 1, 1);
            return true;
        }
        await conn.ExecuteAsync(
            "UPDATE alerts SET last_seen_at = @now, failed = failed + 1, total = total + 1 WHERE app_id = @appId AND incident_key = @key AND resolved_at IS NULL",
            new { now = Now, appId, key });
        return false;
    }

    private async Task<long?> OpenAsync(System.Data.Common.DbConnection conn, long appId, string kind, string key, long? campaignId, string? provider,
        string reason, string reasons, long failed, long total, double? threshold)
    {
        var id = await conn.ExecuteScalarAsync<long?>(
            """
            INSERT INTO alerts (app_id, kind, incident_key, campaign_id, provider, reason, reasons, failed, total, threshold, opened_at, last_seen_at, notify_due_at)
            VALUES (@appId, @kind, @key, @campaignId, @provider, @reason, @reasons, @failed, @total, @threshold, @now, @now, @now)
            ON CONFLICT (app_id, incident_key) WHERE resolved_at IS NULL DO NOTHING
            RETURNING id
            """, new { appId, kind, key, campaignId, provider, reason, reasons, failed, total, threshold, now = Now });
        if (id is not null) Wake();
        return id;
    }

    /// <summary>Open incidents whose condition has not been seen for a full window (and a step, the window's granularity) are resolved.</summary>
    public async Task<int> ResolveQuietAsync(CancellationToken ct)
    {
        var window = new RateWindow(_o.Window);
        var cutoff = (clock.GetUtcNow() - window.Window - window.Step).ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        var n = await conn.ExecuteAsync("UPDATE alerts SET resolved_at = @now WHERE resolved_at IS NULL AND last_seen_at < @cutoff", new { now = Now, cutoff });
        if (n > 0) LogResolved(logger, n);
        return n;
    }

    public async Task<IReadOnlyList<AlertView>> ListAsync(long appId, bool? open, int limit, CancellationToken ct)
    {
        var filter = open switch { true => "AND a.resolved_at IS NULL", false => "AND a.resolved_at IS NOT NULL", _ => "" };
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<AlertRow>($"SELECT {AlertRow.Columns} WHERE a.app_id = @appId {filter} ORDER BY a.id DESC LIMIT @limit", new { appId, limit });
        return rows.Select(r => r.ToView()).ToList();
    }

    public async Task<AlertView?> GetAsync(long appId, long id, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var row = await conn.QueryFirstOrDefaultAsync<AlertRow>($"SELECT {AlertRow.Columns} WHERE a.app_id = @appId AND a.id = @id", new { appId, id });
        return row?.ToView();
    }

    private sealed class SettingsRow
    {
        public string? WebhookUrl { get; init; }
        public string Emails { get; init; } = "";
        public long? UpdatedAt { get; init; }
        public double? CampaignFailureRate { get; init; }
        public double? ProviderErrorRate { get; init; }
    }

    private AlertThresholds Defaults => new(_o.CampaignFailureRate, _o.ProviderErrorRate);

    public async Task<AlertSettingsView> SettingsAsync(long appId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var row = await conn.QueryFirstOrDefaultAsync<SettingsRow>(
            """
            SELECT webhook_url AS WebhookUrl, emails AS Emails, updated_at AS UpdatedAt, campaign_failure_rate AS CampaignFailureRate,
                   provider_error_rate AS ProviderErrorRate
            FROM alert_settings WHERE app_id = @appId
            """, new { appId });
        return row is null ? new AlertSettingsView(null, [], null, Defaults: Defaults)
            : new AlertSettingsView(row.WebhookUrl, row.Emails.Split(',', StringSplitOptions.RemoveEmptyEntries), row.UpdatedAt,
                row.CampaignFailureRate, row.ProviderErrorRate, Defaults);
    }

    public async Task<AlertSettingsView> SetSettingsAsync(long appId, AlertSettingsInput input, CancellationToken ct)
    {
        var (url, emails) = input.Validated();
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync(
            """
            INSERT INTO alert_settings (app_id, webhook_url, emails, updated_at, campaign_failure_rate, provider_error_rate)
            VALUES (@appId, @url, @emails, @now, @campaign, @provider)
            ON CONFLICT (app_id) DO UPDATE SET webhook_url = excluded.webhook_url, emails = excluded.emails, updated_at = excluded.updated_at,
                campaign_failure_rate = excluded.campaign_failure_rate, provider_error_rate = excluded.provider_error_rate
            """, new { appId, url, emails = string.Join(',', emails), now = Now, campaign = input.CampaignFailureRate, provider = input.ProviderErrorRate });
        _thresholds.TryRemove(appId, out _);
        return await SettingsAsync(appId, ct);
    }

    private readonly ConcurrentDictionary<long, (long ReadAt, AlertThresholds Thresholds)> _thresholds = new();

    /// <summary>
    /// The thresholds that apply to an app's counters: its own, else the installation's. Read at most
    /// every 30 seconds per app on a node (a change on this node applies at once).
    /// </summary>
    public async Task<AlertThresholds> ThresholdsAsync(long appId, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (_thresholds.TryGetValue(appId, out var cached) && now - cached.ReadAt < 30_000) return cached.Thresholds;
        var s = await SettingsAsync(appId, ct);
        var t = new AlertThresholds(s.CampaignFailureRate ?? _o.CampaignFailureRate, s.ProviderErrorRate ?? _o.ProviderErrorRate);
        _thresholds[appId] = (now, t);
        return t;
    }

    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert {Id} opened for app {AppId}: {Kind} {Key} ({Failed}/{Total})")]
    private static partial void LogOpened(ILogger logger, long id, long appId, string kind, string key, long failed, long total);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} alert(s) resolved after a quiet window")]
    private static partial void LogResolved(ILogger logger, int count);
}
