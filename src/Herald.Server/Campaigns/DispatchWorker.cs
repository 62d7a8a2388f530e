using System.Collections.Concurrent;
using System.Data.Common;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Dapper;
using Herald.Gateways;
using Herald.Gateways.Email;
using Herald.Gateways.Sms;
using Herald.Server.Delivery;
using Herald.Server.Identity;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.Server.Campaigns;

/// <summary>
/// Sends what the planner queued (DESIGN "Campaigns and delivery"). Two lanes per node — urgent
/// (fast push) and bulk — each claims due ledger rows with a lease (FOR UPDATE SKIP LOCKED on
/// PostgreSQL, so nodes never take the same row), renders them with the campaign's compiled
/// templates, sends through the app's gateways with bounded concurrency and records the outcome on
/// the row. The row's key and state machine are the exactly-once guard; a lease that runs out
/// (the node died mid-send) hands the row back, and the resend carries the same message id as
/// collapse key, so the device replaces rather than duplicates the notification.
/// </summary>
public sealed partial class DispatchWorker(Db db, GatewayRegistry gateways, DeliveryFeedback feedback, CampaignService campaigns,
    CampaignStops stops, IEnumerable<IDeliveryObserver> observers, IOptions<DispatchOptions> options, TimeProvider clock, ILogger<DispatchWorker> logger) : BackgroundService
{
    private readonly DispatchOptions _o = options.Value;
    private readonly IDeliveryObserver[] _observers = observers.ToArray();
    private readonly ConcurrentBag<Channel<bool>> _wakes = [];
    private readonly ConcurrentDictionary<(long, long, long, int), CampaignRenderer> _renderers = new();

    /// <summary>Something became due on this node: look now instead of at the next poll.</summary>
    public void Wake()
    {
        foreach (var w in _wakes) w.Writer.TryWrite(true);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        Enumerable.Range(0, _o.BulkWorkers)
            .Select(_ => Task.Run(() => LaneAsync(urgent: false, Math.Max(1, _o.BulkConcurrency / _o.BulkWorkers), stoppingToken), CancellationToken.None))
            .Append(Task.Run(() => LaneAsync(urgent: true, _o.UrgentConcurrency, stoppingToken), CancellationToken.None))
            .Append(Task.Run(() => RecoverLeasesAsync(stoppingToken), CancellationToken.None)));

    private async Task LaneAsync(bool urgent, int concurrency, CancellationToken stop)
    {
        var wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        _wakes.Add(wake);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var rows = await ClaimAsync(urgent, stop);
                if (rows.Count > 0) { await SendChunkAsync(rows, urgent, concurrency, stop); continue; }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                // A database error is not "nothing to do": back off and try again.
                LogLaneFailed(logger, e, urgent ? "urgent" : "bulk");
            }
            try
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
                wait.CancelAfter(_o.Poll);
                await wake.Reader.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested) { }
            catch (OperationCanceledException) { return; }
        }
    }

    internal sealed class Claimed
    {
        public long AppId { get; init; }
        public long CampaignId { get; init; }
        public int Recipient { get; init; }
        public int? DeviceOrdinal { get; init; }
        public int? UserOrdinal { get; init; }
        public string MessageId { get; init; } = "";
        public int Attempts { get; init; }
        public int Variant { get; init; }
    }

    private async Task<List<Claimed>> ClaimAsync(bool urgent, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var args = new { now = now.ToUnixTimeMilliseconds(), lease = (now + _o.Lease).ToUnixTimeMilliseconds(), priority = urgent ? 1 : 0, n = _o.ChunkSize };
        await using var conn = await db.OpenAsync(ct);
        const string returning = "RETURNING app_id AS AppId, campaign_id AS CampaignId, recipient AS Recipient, device_ordinal AS DeviceOrdinal, user_ordinal AS UserOrdinal, message_id AS MessageId, attempts AS Attempts, variant AS Variant";
        var sql = db.IsPostgres
            ? $"""
              UPDATE deliveries d SET state = 'sending', lease_until = @lease, attempts = d.attempts + 1, updated_at = @now
              FROM (SELECT app_id, campaign_id, recipient FROM deliveries
                    WHERE state = 'queued' AND priority = @priority AND due_at <= @now
                    ORDER BY due_at LIMIT @n FOR UPDATE SKIP LOCKED) c
              WHERE d.app_id = c.app_id AND d.campaign_id = c.campaign_id AND d.recipient = c.recipient
              {returning.Replace("RETURNING ", "RETURNING d.", StringComparison.Ordinal).Replace(", ", ", d.", StringComparison.Ordinal)}
              """
            : $"""
              UPDATE deliveries SET state = 'sending', lease_until = @lease, attempts = attempts + 1, updated_at = @now
              WHERE rowid IN (SELECT rowid FROM deliveries WHERE state = 'queued' AND priority = @priority AND due_at <= @now ORDER BY due_at LIMIT @n)
              {returning}
              """;
        return (await conn.QueryAsync<Claimed>(sql, args)).ToList();
    }

    private sealed class Recipient
    {
        public int Ordinal { get; init; }
        public string? InstallationId { get; init; }
        public string? Platform { get; init; }
        public string? PushToken { get; init; }
        public string? PushP256dh { get; init; }
        public string? PushAuth { get; init; }
        public string? Locale { get; init; }
        public string? Timezone { get; init; }
        public string? AppVersion { get; init; }
        public string? OsVersion { get; init; }
        public string? ExternalId { get; init; }
        public string? Email { get; init; }
        public string? Phone { get; init; }
        public string Attributes { get; init; } = "{}";
    }

    private sealed record Result(Claimed Row, string State, string? Reason, string? ProviderId, long? DueAt)
    {
        public string Provider { get; init; } = "";
        public OutcomeKind? Kind { get; init; }
    }

    private async Task SendChunkAsync(List<Claimed> rows, bool urgent, int concurrency, CancellationToken stop)
    {
        var results = new ConcurrentBag<Result>();
        foreach (var group in rows.GroupBy(r => (r.AppId, r.CampaignId)))
        {
            var (appId, campaignId) = group.Key;
            var campaign = await campaigns.GetAsync(appId, campaignId, stop, withHistory: false);
            if (campaign is null || campaign.State is CampaignStates.Stopped or CampaignStates.Recalled)
            {
                foreach (var r in group) results.Add(new Result(r, DeliveryStates.Cancelled, "campaign stopped", null, null));
                continue;
            }
            if (campaign.State == CampaignStates.Scheduled)
                await MarkSendingAsync(appId, campaignId, stop);
            var recipients = await LoadRecipientsAsync(appId, campaign.Channel, group.ToList(), stop);
            await Parallel.ForEachAsync(group, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = CancellationToken.None }, async (row, _) =>
            {
                // Checked before every request: after a stop is acknowledged nothing more goes out.
                if (stops.IsStopped(appId, campaignId))
                {
                    results.Add(new Result(row, DeliveryStates.Cancelled, "campaign stopped", null, null));
                    return;
                }
                recipients.TryGetValue(row.Recipient, out var who);
                // Each A/B variant renders its own content.
                var renderer = _renderers.GetOrAdd((appId, campaignId, campaign.UpdatedAt, row.Variant),
                    _ => new CampaignRenderer(AbTests.ForVariant(campaign.Definition, row.Variant)));
                results.Add(await SendOneAsync(appId, campaign, renderer, row, who, urgent, stop));
            });
        }
        var recorded = results.ToList();
        await RecordAsync(recorded);
        await NotifyAsync(recorded, stop);
        foreach (var campaignKey in rows.Select(r => (r.AppId, r.CampaignId)).Distinct())
            await FinishIfDoneAsync(campaignKey.AppId, campaignKey.CampaignId);
    }

    private async Task<Result> SendOneAsync(long appId, CampaignView campaign, CampaignRenderer renderer, Claimed row, Recipient? who, bool urgent, CancellationToken stop)
    {
        if (who is null) return new Result(row, DeliveryStates.Failed, "recipient no longer exists", null, null);
        var user = who.ExternalId is null && campaign.Channel is CampaignChannels.Push or CampaignChannels.WebPush ? null : new UserView
        {
            ExternalId = who.ExternalId ?? "", Email = who.Email, Phone = who.Phone, Attributes = JsonNode.Parse(who.Attributes)!.AsObject(),
        };
        var device = who.InstallationId is null ? null : new DeviceView
        {
            InstallationId = who.InstallationId, Platform = who.Platform ?? "", Locale = who.Locale, Timezone = who.Timezone,
            AppVersion = who.AppVersion, OsVersion = who.OsVersion,
        };
        var rendered = renderer.Render(CampaignRenderer.Context(user, device), who.Locale);
        if (rendered.Skipped) return new Result(row, DeliveryStates.Skipped, rendered.SkipReason, null, null);
        var f = rendered.Rendered;
        string channel = "";
        try
        {
            SendOutcome outcome;
            switch (campaign.Channel)
            {
                case CampaignChannels.Email:
                    channel = Channels.Smtp;
                    var email = await gateways.EmailAsync(appId, stop);
                    outcome = await email.Gateway.SendAsync(new EmailMessage(who.Email!, email.From, f.GetValueOrDefault("subject") ?? "", f.GetValueOrDefault("html"), f.GetValueOrDefault("text"), row.MessageId), stop);
                    await feedback.ApplyEmailAsync(appId, who.Email!, outcome, stop);
                    break;
                case CampaignChannels.Sms:
                    channel = Channels.Sms;
                    var sms = await gateways.SmsAsync(appId, stop);
                    outcome = await sms.SendAsync(new SmsMessage(who.Phone!, f.GetValueOrDefault("body") ?? "", row.MessageId), stop);
                    await feedback.ApplySmsAsync(appId, outcome, stop);
                    break;
                default:
                    channel = Channels.ForPlatform(who.Platform ?? "") ?? throw new InvalidOperationException($"platform {who.Platform}");
                    var gateway = await gateways.PushAsync(appId, channel, stop);
                    var c = renderer.Definition.Content;
                    var message = new PushMessage
                    {
                        MessageId = row.MessageId,
                        Title = f.GetValueOrDefault("title"),
                        Body = f.GetValueOrDefault("body"),
                        ImageUrl = c.ImageUrl,
                        Url = f.GetValueOrDefault("url"),
                        Sound = c.Sound,
                        Badge = c.Badge,
                        Data = f.Where(x => x.Key.StartsWith("data.", StringComparison.Ordinal)).ToDictionary(x => x.Key[5..], x => x.Value ?? ""),
                        Buttons = (c.Buttons ?? []).Select((b, i) => new PushButton(b.Id ?? $"b{i + 1}", b.Text, b.Action, b.Target)).ToList(),
                        TimeToLive = c.TtlSeconds is { } ttl ? TimeSpan.FromSeconds(ttl) : null,
                        CollapseKey = c.CollapseKey ?? row.MessageId,
                        Priority = urgent ? PushPriority.High : PushPriority.Normal,
                    };
                    outcome = await gateway.SendAsync(new PushTarget(who.PushToken!, who.PushP256dh, who.PushAuth), message, stop);
                    if (row.DeviceOrdinal is { } d) await feedback.ApplyPushAsync(appId, d, channel, outcome, stop);
                    break;
            }
            return ToResult(row, outcome) with { Provider = channel, Kind = outcome.Kind };
        }
        catch (ProblemException p) when (p.Status == 409)
        {
            // The channel has no credentials: wait for an operator rather than failing every recipient.
            return Retry(row, _o.ConfigErrorPause, $"{channel} not configured: {p.Message}");
        }
    }

    private Result ToResult(Claimed row, SendOutcome o) => o.Kind switch
    {
        OutcomeKind.Delivered => new Result(row, DeliveryStates.Sent, null, o.ProviderMessageId, null),
        OutcomeKind.RetryLater => Retry(row, o.RetryAfter ?? TimeSpan.FromSeconds(Math.Pow(2, row.Attempts)), o.Reason),
        OutcomeKind.ConfigError => Retry(row, _o.ConfigErrorPause, $"configuration: {o.Reason}"),
        OutcomeKind.TokenDead => new Result(row, DeliveryStates.Failed, $"token dead: {o.Reason}", null, null),
        _ => new Result(row, DeliveryStates.Failed, $"invalid: {o.Reason}", null, null),
    };

    private Result Retry(Claimed row, TimeSpan after, string? reason) =>
        row.Attempts >= _o.MaxAttempts
            ? new Result(row, DeliveryStates.Failed, $"gave up after {row.Attempts} tries: {reason}", null, null)
            : new Result(row, DeliveryStates.Queued, reason, null, (clock.GetUtcNow() + after).ToUnixTimeMilliseconds());

    private async Task<Dictionary<int, Recipient>> LoadRecipientsAsync(long appId, string channel, List<Claimed> rows, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var ordinals = rows.Select(r => r.Recipient).ToArray();
        var byDevice = channel is CampaignChannels.Push or CampaignChannels.WebPush;
        var sql = byDevice
            ? $$"""
              SELECT d.ordinal AS Ordinal, d.installation_id AS InstallationId, d.platform AS Platform, d.push_token AS PushToken,
                     d.push_p256dh AS PushP256dh, d.push_auth AS PushAuth, d.locale AS Locale, d.timezone AS Timezone,
                     d.app_version AS AppVersion, d.os_version AS OsVersion, u.external_id AS ExternalId, u.email AS Email,
                     u.phone AS Phone, COALESCE(u.attributes, '{}') AS Attributes
              FROM devices d LEFT JOIN users u ON u.app_id = d.app_id AND u.ordinal = d.user_ordinal
              WHERE d.app_id = @appId AND {{db.In("d.ordinal", "ordinals")}}
              """
            : $$"""
              SELECT u.ordinal AS Ordinal, u.external_id AS ExternalId, u.email AS Email, u.phone AS Phone, u.attributes AS Attributes
              FROM users u WHERE u.app_id = @appId AND {{db.In("u.ordinal", "ordinals")}}
              """;
        return (await conn.QueryAsync<Recipient>(sql, new { appId, ordinals })).ToDictionary(r => r.Ordinal);
    }

    private async Task RecordAsync(List<Result> results)
    {
        if (results.Count == 0) return;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync();
        await using var tx = await conn.BeginTransactionAsync();
        // Only rows still "sending" are written: a stop that cancelled them, or a lease handed to
        // another node, wins over a late result.
        if (db.IsPostgres)
        {
            // One statement for the whole chunk.
            await conn.ExecuteAsync(
                """
                UPDATE deliveries d SET state = v.state, reason = v.reason, provider_message_id = v.pid,
                       sent_at = CASE WHEN v.state = 'sent' THEN @now ELSE d.sent_at END,
                       due_at = COALESCE(v.due, d.due_at), lease_until = NULL, updated_at = @now
                FROM unnest(@apps, @campaigns, @recipients, @states, @reasons, @pids, @dues) AS v(app, campaign, recipient, state, reason, pid, due)
                WHERE d.app_id = v.app AND d.campaign_id = v.campaign AND d.recipient = v.recipient AND d.state = 'sending'
                """,
                new
                {
                    now,
                    apps = results.Select(r => r.Row.AppId).ToArray(),
                    campaigns = results.Select(r => r.Row.CampaignId).ToArray(),
                    recipients = results.Select(r => r.Row.Recipient).ToArray(),
                    states = results.Select(r => r.State).ToArray(),
                    reasons = results.Select(r => r.Reason).ToArray(),
                    pids = results.Select(r => r.ProviderId).ToArray(),
                    dues = results.Select(r => r.DueAt).ToArray(),
                }, tx);
        }
        else
        {
            await conn.ExecuteAsync(
                """
                UPDATE deliveries SET state = @State, reason = @Reason, provider_message_id = @ProviderId,
                       sent_at = CASE WHEN @State = 'sent' THEN @now ELSE sent_at END,
                       due_at = COALESCE(@DueAt, due_at), lease_until = NULL, updated_at = @now
                WHERE app_id = @AppId AND campaign_id = @CampaignId AND recipient = @Recipient AND state = 'sending'
                """,
                results.Select(r => new { r.State, r.Reason, r.ProviderId, r.DueAt, now, r.Row.AppId, r.Row.CampaignId, r.Row.Recipient }), tx);
        }
        await tx.CommitAsync();
    }

    private async Task NotifyAsync(List<Result> results, CancellationToken stop)
    {
        if (_observers.Length == 0 || results.Count == 0) return;
        var records = results.Select(r => new DeliveryRecord(r.Row.AppId, r.Row.CampaignId, r.Row.Recipient, r.Row.DeviceOrdinal, r.Row.UserOrdinal,
            r.Provider, r.State, r.Reason, r.Kind)).ToList();
        foreach (var o in _observers)
        {
            try { await o.OnRecordedAsync(records, stop); }
            catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                LogObserverFailed(logger, e, o.GetType().Name);
            }
        }
    }

    private async Task MarkSendingAsync(long appId, long campaignId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (await conn.ExecuteAsync("UPDATE campaigns SET state = 'sending', updated_at = @now WHERE app_id = @appId AND id = @campaignId AND state = 'scheduled'",
                new { appId, campaignId, now }, tx) == 1)
            await CampaignService.RecordAsync(conn, tx, appId, campaignId, CampaignStates.Scheduled, CampaignStates.Sending, "dispatcher", "first messages due", now);
        await tx.CommitAsync(ct);
    }

    /// <summary>When nothing of a campaign is queued or in flight any more, it is sent.</summary>
    private async Task FinishIfDoneAsync(long appId, long campaignId)
    {
        await using var conn = await db.OpenAsync();
        await using var tx = await conn.BeginTransactionAsync();
        var open = await conn.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE app_id = @appId AND campaign_id = @campaignId AND state IN ('queued', 'sending', 'held') LIMIT 1) o",
            new { appId, campaignId }, tx);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (open == 0 && await conn.ExecuteAsync("UPDATE campaigns SET state = 'sent', updated_at = @now WHERE app_id = @appId AND id = @campaignId AND state = 'sending'",
                new { appId, campaignId, now }, tx) == 1)
            await CampaignService.RecordAsync(conn, tx, appId, campaignId, CampaignStates.Sending, CampaignStates.Sent, "dispatcher", "all messages handled", now);
        await tx.CommitAsync();
    }

    /// <summary>Rows whose node died mid-send go back to the queue when their lease runs out.</summary>
    private async Task RecoverLeasesAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var conn = await db.OpenAsync(stop);
                var n = await conn.ExecuteAsync(
                    "UPDATE deliveries SET state = 'queued', lease_until = NULL, reason = 'lease expired; resent with the same collapse id' WHERE state = 'sending' AND lease_until < @now",
                    new { now = clock.GetUtcNow().ToUnixTimeMilliseconds() });
                if (n > 0) { LogRecovered(logger, n); Wake(); }
                await Task.Delay(_o.LeaseCheck, clock, stop);
            }
            catch (OperationCanceledException) { return; }
            catch (Exception e) when (e is DbException or NpgsqlException or InvalidOperationException)
            {
                LogLaneFailed(logger, e, "lease recovery");
                try { await Task.Delay(TimeSpan.FromSeconds(5), clock, stop); } catch (OperationCanceledException) { return; }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Dispatch {Lane} lane failed; retrying")]
    private static partial void LogLaneFailed(ILogger logger, Exception e, string lane);

    [LoggerMessage(Level = LogLevel.Error, Message = "Delivery observer {Observer} failed")]
    private static partial void LogObserverFailed(ILogger logger, Exception e, string observer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Handed {Count} deliveries with expired leases back to the queue")]
    private static partial void LogRecovered(ILogger logger, int count);
}

/// <summary>Campaigns stopped on this node, checked before every provider request.</summary>
public sealed class CampaignStops
{
    private readonly ConcurrentDictionary<(long, long), bool> _stopped = new();

    public void Stop(long appId, long campaignId) => _stopped[(appId, campaignId)] = true;

    public bool IsStopped(long appId, long campaignId) => _stopped.ContainsKey((appId, campaignId));
}
