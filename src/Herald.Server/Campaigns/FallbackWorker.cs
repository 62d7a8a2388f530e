using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using Dapper;
using Herald.Gateways;
using Herald.Gateways.Email;
using Herald.Gateways.Sms;
using Herald.Server.Delivery;
using Herald.Server.Identity;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Campaigns;

/// <summary>Bound from <c>Herald:Fallback</c>.</summary>
public sealed class FallbackOptions
{
    public const string Section = "Herald:Fallback";

    /// <summary>How often an idle worker looks for due fallbacks and passed receipt windows (a new fallback on this node wakes it at once).</summary>
    public TimeSpan Poll { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A claimed fallback not finished within this time is handed back (its node died).</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Fallbacks one worker claims at a time.</summary>
    [Range(1, 10_000)] public int BatchSize { get; set; } = 100;

    /// <summary>SMS / email requests in flight per node (SMS relays and SMTP servers are slower than push providers).</summary>
    [Range(1, 256)] public int Concurrency { get; set; } = 8;

    /// <summary>Tries per fallback before it is recorded as failed.</summary>
    [Range(1, 100)] public int MaxAttempts { get; set; } = 5;

    /// <summary>When the channel has no or wrong credentials, its fallbacks wait this long before the next try.</summary>
    public TimeSpan ConfigErrorPause { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// Sends recorded fallbacks through the app's SMS or email gateway. Claims due rows with a lease
/// (FOR UPDATE SKIP LOCKED on PostgreSQL); a row is written back only while still "sending", and an
/// expired lease hands it back with the same message id — so a restart neither loses nor, short of
/// a crash between the provider's answer and the write, duplicates a fallback. Users without the
/// address, opted out, or with a suppressed email are recorded as skipped with the reason.
/// </summary>
public sealed partial class FallbackWorker(Db db, Fallbacks fallbacks, GatewayRegistry gateways, DeliveryFeedback feedback, CampaignService campaigns,
    IOptions<FallbackOptions> options, TimeProvider clock, ILogger<FallbackWorker> logger) : BackgroundService
{
    private readonly FallbackOptions _o = options.Value;
    private readonly ConcurrentDictionary<(long, long, long), CampaignRenderer> _renderers = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RecoverLeasesAsync(stoppingToken);
                await fallbacks.ScanWindowsAsync(stoppingToken);
                if (await RunOnceAsync(stoppingToken) > 0) continue;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                // A database error is not "nothing to do": wait a poll and try again.
                LogFailed(logger, e);
            }
            await fallbacks.WaitAsync(_o.Poll, stoppingToken);
        }
    }

    private sealed class Claimed
    {
        public long AppId { get; init; }
        public long CampaignId { get; init; }
        public int UserOrdinal { get; init; }
        public string Channel { get; init; } = "";
        public string MessageId { get; init; } = "";
        public int Attempts { get; init; }
    }

    private sealed class Recipient
    {
        public string? ExternalId { get; init; }
        public string? Email { get; init; }
        public string? Phone { get; init; }
        public string Attributes { get; init; } = "{}";
        public bool OptInEmail { get; init; }
        public bool OptInSms { get; init; }
        public long? EmailSuppressedAt { get; init; }
        public long? DeletedAt { get; init; }
        public string? Locale { get; init; }
    }

    private sealed record Result(Claimed Row, string State, string? Reason, long? DueAt = null);

    /// <summary>Claims and sends one batch of due fallbacks. Returns how many were claimed.</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var rows = await ClaimAsync(ct);
        if (rows.Count == 0) return 0;
        var results = new ConcurrentBag<Result>();
        foreach (var group in rows.GroupBy(r => (r.AppId, r.CampaignId)))
        {
            var (appId, campaignId) = group.Key;
            var campaign = await campaigns.GetAsync(appId, campaignId, ct, withHistory: false);
            if (campaign?.Definition.Fallback is null || campaign.State == CampaignStates.Recalled)
            {
                foreach (var r in group) results.Add(new Result(r, FallbackStates.Skipped, campaign is null ? "campaign deleted" : "campaign recalled"));
                continue;
            }
            var renderer = _renderers.GetOrAdd((appId, campaignId, campaign.UpdatedAt), _ => new CampaignRenderer(FallbackValidator.AsCampaign(campaign.Definition)));
            var users = await LoadUsersAsync(appId, group.Select(r => r.UserOrdinal).ToArray(), ct);
            var looked = new ChunkGateways(gateways, appId, ct); // the app's gateways once per batch, not per message
            await Parallel.ForEachAsync(group, new ParallelOptions { MaxDegreeOfParallelism = _o.Concurrency, CancellationToken = CancellationToken.None }, async (row, _) =>
                results.Add(await SendOneAsync(row, users.GetValueOrDefault(row.UserOrdinal), renderer, looked, ct)));
        }
        await RecordAsync(results.ToList(), ct);
        return rows.Count;
    }

    private async Task<List<Claimed>> ClaimAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var args = new { now = now.ToUnixTimeMilliseconds(), lease = (now + _o.Lease).ToUnixTimeMilliseconds(), n = _o.BatchSize };
        await using var conn = await db.OpenAsync(ct);
        var sql = db.IsPostgres
            ? """
              UPDATE fallbacks f SET state = 'sending', lease_until = @lease, attempts = f.attempts + 1, updated_at = @now
              FROM (SELECT app_id, campaign_id, user_ordinal FROM fallbacks WHERE state = 'pending' AND due_at <= @now
                    ORDER BY due_at LIMIT @n FOR UPDATE SKIP LOCKED) c
              WHERE f.app_id = c.app_id AND f.campaign_id = c.campaign_id AND f.user_ordinal = c.user_ordinal
              RETURNING f.app_id AS AppId, f.campaign_id AS CampaignId, f.user_ordinal AS UserOrdinal, f.channel AS Channel, f.message_id AS MessageId, f.attempts AS Attempts
              """
            : """
              UPDATE fallbacks SET state = 'sending', lease_until = @lease, attempts = attempts + 1, updated_at = @now
              WHERE rowid IN (SELECT rowid FROM fallbacks WHERE state = 'pending' AND due_at <= @now ORDER BY due_at LIMIT @n)
              RETURNING app_id AS AppId, campaign_id AS CampaignId, user_ordinal AS UserOrdinal, channel AS Channel, message_id AS MessageId, attempts AS Attempts
              """;
        return (await conn.QueryAsync<Claimed>(sql, args)).ToList();
    }

    private async Task<Dictionary<int, Recipient>> LoadUsersAsync(long appId, int[] ordinals, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<(long Ordinal, string? ExternalId, string? Email, string? Phone, string Attributes, bool OptInEmail, bool OptInSms, long? EmailSuppressedAt, long? DeletedAt, string? Locale)>(
            $"""
            SELECT u.ordinal, u.external_id, u.email, u.phone, u.attributes, u.optin_email, u.optin_sms, u.email_suppressed_at,
                   COALESCE(u.deleted_at, CASE WHEN u.merged_into IS NOT NULL THEN u.updated_at END), {DispatchWorker.UserLocaleSql}
            FROM users u WHERE u.app_id = @appId AND {db.In("u.ordinal", "ordinals")}
            """, new { appId, ordinals });
        return rows.ToDictionary(r => (int)r.Ordinal, r => new Recipient
        {
            ExternalId = r.ExternalId, Email = r.Email, Phone = r.Phone, Attributes = r.Attributes, OptInEmail = r.OptInEmail,
            OptInSms = r.OptInSms, EmailSuppressedAt = r.EmailSuppressedAt, DeletedAt = r.DeletedAt, Locale = r.Locale,
        });
    }

    private async Task<Result> SendOneAsync(Claimed row, Recipient? who, CampaignRenderer renderer, ChunkGateways looked, CancellationToken ct)
    {
        var sms = row.Channel == CampaignChannels.Sms;
        var refusal = who switch
        {
            null or { DeletedAt: not null } => "user deleted",
            _ when sms && string.IsNullOrWhiteSpace(who.Phone) => "no phone number",
            _ when sms && !who.OptInSms => "opted out of sms",
            _ when !sms && string.IsNullOrWhiteSpace(who.Email) => "no email address",
            _ when !sms && !who.OptInEmail => "opted out of email",
            _ when !sms && who.EmailSuppressedAt is not null => "email address suppressed",
            _ => null,
        };
        if (refusal is not null) return new Result(row, FallbackStates.Skipped, refusal);
        var user = new UserView { ExternalId = who!.ExternalId ?? "", Email = who.Email, Phone = who.Phone, Attributes = JsonNode.Parse(who.Attributes)!.AsObject() };
        // The fallback's own translations, by the language of the device the user used last.
        var rendered = renderer.Render(CampaignRenderer.Context(user, null), who.Locale);
        if (rendered.Skipped) return new Result(row, FallbackStates.Skipped, rendered.SkipReason);
        var f = rendered.Rendered;
        try
        {
            SendOutcome outcome;
            if (sms)
            {
                var gateway = await looked.SmsAsync();
                outcome = await gateway.SendAsync(new SmsMessage(who.Phone!, f.GetValueOrDefault("body") ?? "", row.MessageId), ct);
                await feedback.ApplySmsAsync(row.AppId, outcome, ct);
            }
            else
            {
                var email = await looked.EmailAsync();
                outcome = await email.Gateway.SendAsync(new EmailMessage(who.Email!, email.From, f.GetValueOrDefault("subject") ?? "", f.GetValueOrDefault("html"), f.GetValueOrDefault("text"), row.MessageId), ct);
                await feedback.ApplyEmailAsync(row.AppId, who.Email!, outcome, ct);
            }
            return outcome.Kind switch
            {
                OutcomeKind.Delivered => new Result(row, FallbackStates.Sent, null),
                OutcomeKind.RetryLater => Retry(row, outcome.RetryAfter ?? TimeSpan.FromSeconds(Math.Pow(2, row.Attempts)), outcome.Reason),
                OutcomeKind.ConfigError => Retry(row, _o.ConfigErrorPause, $"configuration: {outcome.Reason}"),
                _ => new Result(row, FallbackStates.Failed, $"refused: {outcome.Reason}"),
            };
        }
        catch (ProblemException p) when (p.Status == 409)
        {
            return Retry(row, _o.ConfigErrorPause, $"{row.Channel} not configured: {p.Message}");
        }
    }

    private Result Retry(Claimed row, TimeSpan after, string? reason) =>
        row.Attempts >= _o.MaxAttempts
            ? new Result(row, FallbackStates.Failed, $"gave up after {row.Attempts} tries: {reason}")
            : new Result(row, FallbackStates.Pending, reason, (clock.GetUtcNow() + after).ToUnixTimeMilliseconds());

    private async Task RecordAsync(List<Result> results, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // Only rows still "sending" are written: a lease handed to another node wins over a late result.
        await conn.ExecuteAsync(
            """
            UPDATE fallbacks SET state = @State, reason = @Reason, due_at = COALESCE(@DueAt, due_at), lease_until = NULL, updated_at = @now,
                   sent_at = CASE WHEN @State = 'sent' THEN @now ELSE sent_at END
            WHERE app_id = @AppId AND campaign_id = @CampaignId AND user_ordinal = @UserOrdinal AND state = 'sending'
            """, results.Select(r => new { r.State, Reason = Clip(r.Reason), r.DueAt, now, r.Row.AppId, r.Row.CampaignId, r.Row.UserOrdinal }), tx);
        await tx.CommitAsync(ct);
    }

    private async Task RecoverLeasesAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var n = await conn.ExecuteAsync(
            "UPDATE fallbacks SET state = 'pending', lease_until = NULL, reason = 'lease expired; resent with the same message id' WHERE state = 'sending' AND lease_until < @now",
            new { now = clock.GetUtcNow().ToUnixTimeMilliseconds() });
        if (n > 0) LogRecovered(logger, n);
    }

    private static string? Clip(string? s) => s is { Length: > 500 } ? s[..500] : s;

    [LoggerMessage(Level = LogLevel.Error, Message = "Fallback worker failed; retrying")]
    private static partial void LogFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Handed {Count} fallbacks with expired leases back to the queue")]
    private static partial void LogRecovered(ILogger logger, int count);
}
