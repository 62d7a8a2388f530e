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
/// (fast push) and bulk — each claims due batches of ledger rows (<see cref="DeliveryBatches"/>: a
/// row lock held by the chunk's transaction on PostgreSQL, FOR UPDATE SKIP LOCKED, so nodes never
/// take the same batch; a lease on SQLite), renders them with the campaign's compiled templates, sends
/// through the app's gateways with bounded concurrency and records the outcomes on the rows, deleting
/// the batch in the same transaction; claiming, sending and recording of successive chunks overlap.
/// The row's key and the batch are the exactly-once guard; a claim whose node died is handed back (its
/// transaction ends, or its lease runs out), and the resend carries the same message id as collapse
/// key, so the device replaces rather than duplicates the notification.
/// </summary>
public sealed partial class DispatchWorker(Db db, GatewayRegistry gateways, DeliveryFeedback feedback, CampaignService campaigns, Catalog.CatalogService catalog,
    CampaignStops stops, IEnumerable<IDeliveryObserver> observers, IOptions<DispatchOptions> options, TimeProvider clock, ILogger<DispatchWorker> logger) : BackgroundService
{
    private readonly DispatchOptions _o = options.Value;
    private readonly IDeliveryObserver[] _observers = observers.ToArray();
    private readonly ConcurrentDictionary<(long, long), bool> _triggerRuns = new();
    private readonly ConcurrentBag<Channel<bool>> _wakes = [];
    private readonly ConcurrentDictionary<(long, long, long, int), CampaignRenderer> _renderers = new();

    /// <summary>Something became due on this node: look now instead of at the next poll.</summary>
    public void Wake()
    {
        foreach (var w in _wakes) w.Writer.TryWrite(true);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        Task.Run(() => LaneAsync(urgent: false, _o.BulkConcurrency, stoppingToken), CancellationToken.None),
        Task.Run(() => LaneAsync(urgent: true, _o.UrgentConcurrency, stoppingToken), CancellationToken.None),
        Task.Run(() => RecoverLeasesAsync(stoppingToken), CancellationToken.None));

    /// <summary>
    /// One lane: claims chunks while up to <see cref="DispatchOptions.ChunksInFlight"/> of them are
    /// being sent, so claiming the next chunk and recording the last one overlap the provider
    /// requests; every chunk of the lane draws on one pool of <paramref name="concurrency"/> requests,
    /// so the connections stay busy across chunk boundaries.
    /// </summary>
    private async Task LaneAsync(bool urgent, int concurrency, CancellationToken stop)
    {
        var wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        _wakes.Add(wake);
        using var requests = new SemaphoreSlim(concurrency);
        using var slots = new SemaphoreSlim(_o.ChunksInFlight);
        var running = new ConcurrentDictionary<Task, bool>();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await slots.WaitAsync(stop);
                var started = false;
                try
                {
                    var claimed = await ClaimAsync(urgent, stop);
                    if (claimed is not null)
                    {
                        var chunk = Task.Run(() => SendChunkAsync(claimed, urgent, requests, stop), CancellationToken.None);
                        running[chunk] = true;
                        started = true;
                        _ = chunk.ContinueWith(t =>
                        {
                            if (t.Exception is { } e && !stop.IsCancellationRequested) LogLaneFailed(logger, e, urgent ? "urgent" : "bulk");
                            running.TryRemove(t, out _);
                            slots.Release();
                        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                        continue;
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
                catch (Exception e)
                {
                    // A database error is not "nothing to do": back off and try again.
                    LogLaneFailed(logger, e, urgent ? "urgent" : "bulk");
                }
                finally
                {
                    if (!started) slots.Release();
                }
                try
                {
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    wait.CancelAfter(_o.Poll);
                    await wake.Reader.ReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!stop.IsCancellationRequested) { }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
        finally
        {
            // The semaphores outlive the chunks that still hold them.
            await Task.WhenAll(running.Keys).ContinueWith(_ => { }, TaskScheduler.Default);
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
        public int Priority { get; init; }
        /// <summary>The batch this row was claimed in.</summary>
        public long Batch { get; set; }
    }

    private sealed class BatchRow
    {
        public long Id { get; init; }
        public long AppId { get; init; }
        public long CampaignId { get; init; }
        public object Recipients { get; init; } = Array.Empty<int>();
    }

    /// <summary>
    /// Due batches claimed by one worker, and their rows still queued. On PostgreSQL the claim is a
    /// lock on the batches held by an open transaction (SELECT … FOR UPDATE SKIP LOCKED) until the
    /// outcomes are written in it: nothing is written to claim, no other node can take the batches,
    /// and if this node dies the transaction ends with it and the batches are due again at once.
    /// SQLite has one writer, so a transaction cannot stay open across sends: there the batches get a
    /// lease with this claim's token instead.
    /// </summary>
    private sealed class ClaimedChunk(List<Claimed> rows, long[] batches, (long AppId, long CampaignId)[] campaigns, string? token,
        DbConnection? conn, DbTransaction? tx) : IAsyncDisposable
    {
        public List<Claimed> Rows { get; } = rows;
        public long[] Batches { get; } = batches;
        /// <summary>The campaigns of the batches (a batch may have no row left to send).</summary>
        public (long AppId, long CampaignId)[] Campaigns { get; } = campaigns;
        public string? Token { get; } = token;
        public DbConnection? Connection { get; } = conn;
        public DbTransaction? Transaction { get; } = tx;
        public bool Locked => Transaction is not null;

        public async ValueTask DisposeAsync()
        {
            if (Transaction is not null) await Transaction.DisposeAsync();
            if (Connection is not null) await Connection.DisposeAsync();
        }
    }

    private async Task<ClaimedChunk?> ClaimAsync(bool urgent, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var conn = await db.OpenAsync(ct);
        DbTransaction? tx = null;
        try
        {
            // PostgreSQL: batch locks held by this transaction until the outcomes are recorded.
            // SQLite: a lease with this claim's token, written at once.
            if (db.IsPostgres) tx = await conn.BeginTransactionAsync(ct);
            var token = db.IsPostgres ? null : Guid.NewGuid().ToString("N");
            var batches = new List<long>();
            var campaigns = new HashSet<(long, long)>();
            var rows = new List<Claimed>();
            // Batches until the chunk is full: one for a big campaign, several for transactional sends.
            while (rows.Count < _o.ChunkSize && batches.Count < MaxBatchesPerClaim)
            {
                var args = new
                {
                    now = now.ToUnixTimeMilliseconds(), lease = (now + _o.Lease).ToUnixTimeMilliseconds(), priority = urgent ? 1 : 0,
                    taken = batches.ToArray(), token,
                };
                var batch = db.IsPostgres
                    ? await conn.QuerySingleOrDefaultAsync<BatchRow>(
                        """
                        SELECT id AS Id, app_id AS AppId, campaign_id AS CampaignId, recipients AS Recipients FROM delivery_batches
                        WHERE NOT held AND priority = @priority AND due_at <= @now AND id <> ALL(@taken)
                        ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED
                        """, args, tx)
                    : await conn.QuerySingleOrDefaultAsync<BatchRow>(
                        """
                        UPDATE delivery_batches SET lease_until = @lease, claim = @token
                        WHERE id = (SELECT id FROM delivery_batches WHERE NOT held AND priority = @priority AND due_at <= @now AND lease_until IS NULL ORDER BY due_at LIMIT 1)
                        RETURNING id AS Id, app_id AS AppId, campaign_id AS CampaignId, recipients AS Recipients
                        """, args);
                if (batch is null) break;
                batches.Add(batch.Id);
                campaigns.Add((batch.AppId, batch.CampaignId));
                var recipients = DeliveryBatches.ParseRecipients(batch.Recipients);
                if (recipients.Length == 0) continue;
                // Rows cancelled since the batch was written (a stop) are passed over. The range lets
                // the primary key serve the look-up even while the table's statistics predate the
                // campaign (they would have the planner scan all of its rows for each batch).
                foreach (var row in await conn.QueryAsync<Claimed>(
                    $"""
                    SELECT app_id AS AppId, campaign_id AS CampaignId, recipient AS Recipient, device_ordinal AS DeviceOrdinal,
                           user_ordinal AS UserOrdinal, message_id AS MessageId, attempts + 1 AS Attempts, variant AS Variant, priority AS Priority
                    FROM deliveries
                    WHERE app_id = @AppId AND campaign_id = @CampaignId AND recipient BETWEEN @low AND @high AND {db.In("recipient", "recipients")}
                      AND state = 'queued'
                    """, new { batch.AppId, batch.CampaignId, recipients, low = recipients.Min(), high = recipients.Max() }, tx))
                {
                    row.Batch = batch.Id;
                    rows.Add(row);
                }
            }
            if (batches.Count > 0)
            {
                if (tx is not null) return new ClaimedChunk(rows, batches.ToArray(), campaigns.ToArray(), token, conn, tx);
                await conn.DisposeAsync(); // SQLite: the lease is written, the connection goes back
                return new ClaimedChunk(rows, batches.ToArray(), campaigns.ToArray(), token, null, null);
            }
        }
        catch
        {
            if (tx is not null) await tx.DisposeAsync();
            await conn.DisposeAsync();
            throw;
        }
        if (tx is not null) await tx.DisposeAsync();
        await conn.DisposeAsync();
        return null;
    }

    /// <summary>Transactional sends make batches of one: a claim takes up to this many.</summary>
    private const int MaxBatchesPerClaim = 64;

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

    private async Task SendChunkAsync(ClaimedChunk chunk, bool urgent, SemaphoreSlim requests, CancellationToken stop)
    {
        await using var _ = chunk;
        using var done = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var renewing = chunk.Locked ? Task.CompletedTask : RenewLeasesAsync(chunk, done.Token);
        try
        {
            await SendAndRecordAsync(chunk, urgent, requests, stop);
        }
        finally
        {
            await done.CancelAsync();
            await renewing;
        }
    }

    /// <summary>
    /// A chunk that waits for its turn or sends slowly keeps its batches: their lease is renewed while
    /// this node is alive, so only a dead node's batches are handed to another worker (SQLite; on
    /// PostgreSQL the claim is a lock that lives exactly as long as the node's transaction).
    /// </summary>
    private async Task RenewLeasesAsync(ClaimedChunk chunk, CancellationToken done)
    {
        var every = _o.Lease / 3;
        while (true)
        {
            try { await Task.Delay(every, clock, done); }
            catch (OperationCanceledException) { return; }
            try
            {
                var lease = (clock.GetUtcNow() + _o.Lease).ToUnixTimeMilliseconds();
                await using var conn = await db.OpenAsync(done);
                await conn.ExecuteAsync(
                    $"UPDATE delivery_batches SET lease_until = @lease WHERE {db.In("id", "ids")} AND claim = @token",
                    new { lease, ids = chunk.Batches, token = chunk.Token });
            }
            catch (OperationCanceledException) when (done.IsCancellationRequested) { return; }
            catch (Exception e) when (e is DbException or NpgsqlException or InvalidOperationException)
            {
                LogLaneFailed(logger, e, "lease renewal");
            }
        }
    }

    private async Task SendAndRecordAsync(ClaimedChunk chunk, bool urgent, SemaphoreSlim requests, CancellationToken stop)
    {
        var rows = chunk.Rows;
        var results = new ConcurrentBag<Result>();
        var scheduled = new List<(long AppId, long CampaignId)>();
        foreach (var group in rows.GroupBy(r => (r.AppId, r.CampaignId)))
        {
            var (appId, campaignId) = group.Key;
            var campaign = await campaigns.GetAsync(appId, campaignId, stop, withHistory: false);
            if (campaign is null || campaign.State is CampaignStates.Stopped or CampaignStates.Recalled)
            {
                foreach (var r in group) results.Add(new Result(r, DeliveryStates.Cancelled, "campaign stopped", null, null));
                continue;
            }
            // Marked after the outcomes are written: the campaign's row is never locked while this chunk holds its rows.
            if (campaign.State == CampaignStates.Scheduled) scheduled.Add((appId, campaignId));
            var recipients = await LoadRecipientsAsync(appId, campaign.Channel, group.ToList(), stop);
            // The app's gateways are looked up once per chunk, not per message (new credentials apply from the next chunk).
            var chunkGateways = new ChunkGateways(gateways, appId, stop);
            var triggerEvents = await TriggerEvents.LoadAsync(db, _triggerRuns, appId, campaignId, stop);
            var catalogItems = campaign.Definition.Content.CatalogItem is null ? null : await catalog.SnapshotAsync(appId, stop);
            var sends = new List<Task>();
            foreach (var row in group)
            {
                await requests.WaitAsync(CancellationToken.None);
                sends.Add(Task.Run(async () =>
                {
                    try
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
                        results.Add(await SendOneAsync(appId, campaign, renderer, chunkGateways, row, who, triggerEvents, catalogItems, urgent, stop));
                    }
                    finally { requests.Release(); }
                }, CancellationToken.None));
            }
            await Task.WhenAll(sends);
        }
        var recorded = results.ToList();
        await RecordAsync(recorded, chunk);
        foreach (var (appId, campaignId) in scheduled) await MarkSendingAsync(appId, campaignId, stop);
        await NotifyAsync(recorded, stop);
        foreach (var (appId, campaignId) in chunk.Campaigns)
            await FinishIfDoneAsync(appId, campaignId);
    }

    private async Task<Result> SendOneAsync(long appId, CampaignView campaign, CampaignRenderer renderer, ChunkGateways chunkGateways, Claimed row, Recipient? who,
        TriggerEvents? triggerEvents, IReadOnlyDictionary<string, IReadOnlyDictionary<string, object?>>? catalogItems, bool urgent, CancellationToken stop)
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
        var rendered = renderer.Render(CampaignRenderer.Context(user, device, triggerEvents?.For(row.UserOrdinal, row.DeviceOrdinal)), who.Locale, catalogItems);
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
                    var email = await chunkGateways.EmailAsync();
                    outcome = await email.Gateway.SendAsync(new EmailMessage(who.Email!, email.From, f.GetValueOrDefault("subject") ?? "", f.GetValueOrDefault("html"), f.GetValueOrDefault("text"), row.MessageId), stop);
                    await feedback.ApplyEmailAsync(appId, who.Email!, outcome, stop);
                    break;
                case CampaignChannels.Sms:
                    channel = Channels.Sms;
                    var sms = await chunkGateways.SmsAsync();
                    outcome = await sms.SendAsync(new SmsMessage(who.Phone!, f.GetValueOrDefault("body") ?? "", row.MessageId), stop);
                    await feedback.ApplySmsAsync(appId, outcome, stop);
                    break;
                default:
                    channel = Channels.ForPlatform(who.Platform ?? "") ?? throw new InvalidOperationException($"platform {who.Platform}");
                    var gateway = await chunkGateways.PushAsync(channel);
                    var c = renderer.Definition.Content;
                    var message = new PushMessage
                    {
                        MessageId = row.MessageId,
                        Title = f.GetValueOrDefault("title"),
                        Body = f.GetValueOrDefault("body"),
                        ImageUrl = f.GetValueOrDefault("imageUrl") is { Length: > 0 } image ? image : null,
                        Url = f.GetValueOrDefault("url"),
                        Sound = c.Sound,
                        Badge = c.Badge,
                        Data = renderer.HasData ? f.Where(x => x.Key.StartsWith("data.", StringComparison.Ordinal)).ToDictionary(x => x.Key[5..], x => x.Value ?? "") : PushMessage.NoData,
                        Buttons = renderer.PushButtons,
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

    /// <summary>
    /// A user's language for email and SMS (per-locale content): the locale of the device they used
    /// last. Needs the alias <c>u</c> for users.
    /// </summary>
    internal const string UserLocaleSql =
        "(SELECT d.locale FROM devices d WHERE d.app_id = u.app_id AND d.user_ordinal = u.ordinal AND d.locale IS NOT NULL ORDER BY d.last_seen_at DESC LIMIT 1)";

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
              SELECT u.ordinal AS Ordinal, u.external_id AS ExternalId, u.email AS Email, u.phone AS Phone, u.attributes AS Attributes,
                     {{UserLocaleSql}} AS Locale
              FROM users u WHERE u.app_id = @appId AND {{db.In("u.ordinal", "ordinals")}}
              """;
        return (await conn.QueryAsync<Recipient>(sql, new { appId, ordinals })).ToDictionary(r => r.Ordinal);
    }

    /// <summary>
    /// The outcome of each row, written in the transaction that ends the claim: the rows, a new batch
    /// for the retries, and the claimed batches deleted — together or not at all. The update changes
    /// no indexed column (a heap-only update). A receipt or open the device reported before this
    /// commits has already moved the row on; "sent" does not move it back.
    /// </summary>
    private async Task RecordAsync(List<Result> results, ClaimedChunk chunk)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (chunk.Locked)
        {
            // One statement for the whole chunk; the attempt is counted here. The rows are found by
            // primary key (an earlier version also tested the state, and the planner, judging "queued
            // rows" by statistics older than the plan, hashed every queued row of a fresh million-row
            // plan for each chunk).
            var conn = chunk.Connection!;
            if (results.Count > 0)
                await conn.ExecuteAsync(
                    $"""
                    UPDATE deliveries d SET state = {KeepReported("d.state", "v.state")}, reason = v.reason, provider_message_id = v.pid,
                           sent_at = CASE WHEN v.state = 'sent' THEN @now ELSE d.sent_at END, attempts = d.attempts + 1,
                           due_at = COALESCE(v.due, d.due_at), updated_at = @now
                    FROM unnest(@apps, @campaigns, @recipients, @states, @reasons, @pids, @dues) AS v(app, campaign, recipient, state, reason, pid, due)
                    WHERE d.app_id = v.app AND d.campaign_id = v.campaign AND d.recipient = v.recipient
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
                    }, chunk.Transaction);
            await RequeueAsync(conn, chunk.Transaction!, results);
            await conn.ExecuteAsync("DELETE FROM delivery_batches WHERE id = ANY(@ids)", new { ids = chunk.Batches }, chunk.Transaction);
            await chunk.Transaction!.CommitAsync();
            return;
        }
        await using var lite = await db.OpenAsync();
        await using var tx = await lite.BeginTransactionAsync();
        // Only the batches still ours are recorded: a lease handed to another worker (this node was
        // too slow) means that worker sends and records those rows.
        var ours = (await lite.QueryAsync<long>($"SELECT id FROM delivery_batches WHERE {db.In("id", "ids")} AND claim = @token",
            new { ids = chunk.Batches, token = chunk.Token }, tx)).ToHashSet();
        var recorded = results.Where(r => ours.Contains(r.Row.Batch)).ToList();
        await lite.ExecuteAsync(
            $"""
            UPDATE deliveries SET state = {KeepReported("state", "@State")}, reason = @Reason, provider_message_id = @ProviderId,
                   sent_at = CASE WHEN @State = 'sent' THEN @now ELSE sent_at END, attempts = attempts + 1,
                   due_at = COALESCE(@DueAt, due_at), updated_at = @now
            WHERE app_id = @AppId AND campaign_id = @CampaignId AND recipient = @Recipient
            """,
            recorded.Select(r => new { r.State, r.Reason, r.ProviderId, r.DueAt, now, r.Row.AppId, r.Row.CampaignId, r.Row.Recipient }), tx);
        await RequeueAsync(lite, tx, recorded);
        await lite.ExecuteAsync($"DELETE FROM delivery_batches WHERE {db.In("id", "ids")}", new { ids = ours.ToArray() }, tx);
        await tx.CommitAsync();
    }

    /// <summary>A row's new state, except that "sent" keeps a delivery or open the device reported first.</summary>
    private static string KeepReported(string current, string next) =>
        $"CASE WHEN {next} = 'sent' AND {current} IN ('delivered', 'opened', 'dismissed') THEN {current} ELSE {next} END";

    /// <summary>Rows to try again go back to the queue as new batches, due when their retry is.</summary>
    private async Task RequeueAsync(DbConnection conn, DbTransaction tx, List<Result> results)
    {
        foreach (var campaign in results.Where(r => r.State == DeliveryStates.Queued).GroupBy(r => (r.Row.AppId, r.Row.CampaignId, r.Row.Priority)))
            await DeliveryBatches.InsertAsync(db, conn, tx, campaign.Key.AppId, campaign.Key.CampaignId, campaign.Key.Priority,
                campaign.Select(r => new DeliveryBatches.Pending(r.DueAt ?? clock.GetUtcNow().ToUnixTimeMilliseconds(), false, r.Row.Recipient)), _o.ChunkSize);
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
        var open = await DeliveryBatches.AnyAsync(conn, tx, appId, campaignId);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (!open && await conn.ExecuteAsync("UPDATE campaigns SET state = 'sent', updated_at = @now WHERE app_id = @appId AND id = @campaignId AND state = 'sending'",
                new { appId, campaignId, now }, tx) == 1)
            await CampaignService.RecordAsync(conn, tx, appId, campaignId, CampaignStates.Sending, CampaignStates.Sent, "dispatcher", "all messages handled", now);
        await tx.CommitAsync();
    }

    /// <summary>Batches whose node died mid-send (SQLite) go back to the queue when their lease runs out.</summary>
    private async Task RecoverLeasesAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var conn = await db.OpenAsync(stop);
                var n = await conn.ExecuteAsync(
                    "UPDATE delivery_batches SET lease_until = NULL, claim = NULL WHERE lease_until < @now",
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Handed {Count} delivery batches with expired leases back to the queue; they are resent with the same collapse ids")]
    private static partial void LogRecovered(ILogger logger, int count);
}

/// <summary>Campaigns stopped on this node, checked before every provider request.</summary>
public sealed class CampaignStops
{
    private readonly ConcurrentDictionary<(long, long), bool> _stopped = new();

    public void Stop(long appId, long campaignId) => _stopped[(appId, campaignId)] = true;

    public bool IsStopped(long appId, long campaignId) => _stopped.ContainsKey((appId, campaignId));
}
