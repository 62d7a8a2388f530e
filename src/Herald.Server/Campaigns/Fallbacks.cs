using System.Data.Common;
using System.Threading.Channels;
using Dapper;
using Herald.Domain.Analytics;
using Herald.Server.Ingest;
using Herald.Server.Segments;
using Herald.Server.Storage;

namespace Herald.Server.Campaigns;

/// <summary>
/// Decides who gets a campaign's fallback (R-MSG-8) and records it, once per user: the row's primary
/// key (app, campaign, user) is the exactly-once guard, so the three ways in — planning (no push
/// device), a failed push (every device of the user failed) and the receipt window (nothing
/// confirmed in time) — can all fire for the same user and still make one fallback.
/// <see cref="FallbackWorker"/> sends what is recorded here.
/// </summary>
public sealed class Fallbacks(Db db, CampaignService campaigns, SegmentService segments, ObserverPump ingested, TimeProvider clock) : IDeliveryObserver
{
    /// <summary>The ledger reason of a device left out because its token is stale (it counts as no push device).</summary>
    public const string StaleToken = "stale token (not refreshed for 270 days)";

    // States of a ledger row that mean the push may still reach, or has reached, the device.
    private const string Alive = "'queued', 'sending', 'sent', 'delivered', 'opened', 'dismissed', 'recalled'";

    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Waits until something was recorded or <paramref name="poll"/> has passed (real time: it paces a worker).</summary>
    public async Task WaitAsync(TimeSpan poll, CancellationToken stop)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
        wait.CancelAfter(poll);
        try { await _wake.Reader.ReadAsync(wait.Token); }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested) { }
    }

    public static string MessageId(long campaignId, int userOrdinal) => $"{campaignId}-fb-{userOrdinal}";

    /// <summary>
    /// Called by the planner inside its transaction, after the ledger rows are written: targeted users
    /// without any push row (no device, none push-capable, or only stale tokens) get their fallback,
    /// due when the campaign's first push is; a receipt window starts being watched.
    /// </summary>
    public async Task PlanAsync(DbConnection conn, DbTransaction tx, long appId, long campaignId, CampaignDefinition d, CancellationToken ct)
    {
        if (d.Fallback is not { } f) return;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (f.AfterSeconds is { } after)
            await conn.ExecuteAsync("INSERT INTO fallback_watches (app_id, campaign_id, window_ms) VALUES (@appId, @campaignId, @ms) ON CONFLICT DO NOTHING",
                new { appId, campaignId, ms = after * 1000L }, tx);
        var targeted = await TargetedUsersAsync(conn, tx, appId, d, ct);
        if (targeted.Count == 0) return;
        var reached = (await conn.QueryAsync<int>(
            "SELECT DISTINCT user_ordinal FROM deliveries WHERE app_id = @appId AND campaign_id = @campaignId AND user_ordinal IS NOT NULL AND NOT (state = 'skipped' AND reason = @stale)",
            new { appId, campaignId, stale = StaleToken }, tx)).ToHashSet();
        targeted.ExceptWith(reached);
        if (targeted.Count == 0) return;
        var first = await conn.ExecuteScalarAsync<long?>("SELECT min(due_at) FROM deliveries WHERE app_id = @appId AND campaign_id = @campaignId AND state = 'queued'",
            new { appId, campaignId }, tx);
        var due = first ?? (d.Schedule.Type == "at" && d.Schedule.At is { } at ? Math.Max(now, at.ToUnixTimeMilliseconds()) : now);
        await InsertAsync(conn, tx, appId, campaignId, f.Channel, FallbackCauses.NoDevice, targeted, due, now);
    }

    /// <summary>
    /// The users a campaign's audience names: everyone, explicit users, the owners of explicit
    /// devices and of included segments' devices, minus owners of excluded segments' devices.
    /// Only live users (not deleted, not merged into another).
    /// </summary>
    private async Task<HashSet<int>> TargetedUsersAsync(DbConnection conn, DbTransaction tx, long appId, CampaignDefinition d, CancellationToken ct)
    {
        var a = d.Audience;
        var users = new HashSet<int>();
        const string live = "u.app_id = @appId AND u.deleted_at IS NULL AND u.merged_into IS NULL";
        if (a.All)
        {
            // With a platform filter, "everyone" means everyone with a device of those platforms.
            var sql = a.Platforms is { Count: > 0 }
                ? $"SELECT u.ordinal FROM users u WHERE {live} AND EXISTS (SELECT 1 FROM devices d WHERE d.app_id = u.app_id AND d.user_ordinal = u.ordinal AND {db.In("d.platform", "platforms")})"
                : $"SELECT u.ordinal FROM users u WHERE {live}";
            users.UnionWith(await conn.QueryAsync<int>(sql, new { appId, platforms = (a.Platforms ?? []).ToArray() }, tx));
        }
        if (a.Users is { Count: > 0 })
            users.UnionWith(await conn.QueryAsync<int>($"SELECT u.ordinal FROM users u WHERE {live} AND {db.In("u.external_id", "ids")}", new { appId, ids = a.Users.ToArray() }, tx));
        if (a.Devices is { Count: > 0 })
            users.UnionWith(await conn.QueryAsync<int>(
                $"SELECT u.ordinal FROM devices d JOIN users u ON u.app_id = d.app_id AND u.ordinal = d.user_ordinal WHERE d.app_id = @appId AND {live} AND {db.In("d.installation_id", "ids")}",
                new { appId, ids = a.Devices.ToArray() }, tx));
        if (a.IncludeSegments is not { Count: > 0 } && a.ExcludeSegments is not { Count: > 0 }) return users;

        // Segments are sets of devices: a user is in one when any of their devices is.
        var owners = (await conn.QueryAsync<(long Device, long User)>(
            $"SELECT d.ordinal, u.ordinal FROM devices d JOIN users u ON u.app_id = d.app_id AND u.ordinal = d.user_ordinal WHERE d.app_id = @appId AND {live}",
            new { appId }, tx)).ToList();
        async Task<HashSet<int>> OwnersOf(List<long> ids)
        {
            var members = new List<RoaringBitmap>();
            foreach (var id in ids.Distinct()) members.Add(await segments.MembersAsync(appId, id, ct));
            var bits = RoaringBitmap.OrMany(members);
            return owners.Where(o => bits.Contains((uint)o.Device)).Select(o => (int)o.User).ToHashSet();
        }
        if (a.IncludeSegments is { Count: > 0 }) users.UnionWith(await OwnersOf(a.IncludeSegments));
        if (a.ExcludeSegments is { Count: > 0 }) users.ExceptWith(await OwnersOf(a.ExcludeSegments));
        return users;
    }

    /// <summary>
    /// A push failed: when none of the user's devices got or may still get this campaign's push, the
    /// user gets the fallback now. While another device's push is queued or in flight nothing is
    /// decided — its own outcome comes through here too, and the last one decides.
    /// </summary>
    public async Task OnRecordedAsync(IReadOnlyList<DeliveryRecord> records, CancellationToken ct)
    {
        foreach (var group in records.Where(r => r.State == DeliveryStates.Failed && r.UserOrdinal is not null).GroupBy(r => (r.AppId, r.CampaignId)))
        {
            var (appId, campaignId) = group.Key;
            var campaign = await campaigns.GetAsync(appId, campaignId, ct, withHistory: false);
            if (campaign?.Definition.Fallback is not { } f || campaign.State is CampaignStates.Stopped or CampaignStates.Recalled) continue;
            var users = group.Select(r => r.UserOrdinal!.Value).Distinct().ToArray();
            await using var conn = await db.OpenAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(ct);
            var unreached = (await conn.QueryAsync<int>(
                $"""
                SELECT user_ordinal FROM deliveries
                WHERE app_id = @appId AND campaign_id = @campaignId AND {db.In("user_ordinal", "users")}
                GROUP BY user_ordinal
                HAVING sum(CASE WHEN state IN ({Alive}) THEN 1 ELSE 0 END) = 0
                """, new { appId, campaignId, users }, tx)).ToList();
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var n = await InsertAsync(conn, tx, appId, campaignId, f.Channel, FallbackCauses.PushFailed, unreached, now, now);
            await tx.CommitAsync(ct);
            if (n > 0) Wake();
        }
    }

    /// <summary>
    /// Receipt windows: users whose pushes all went out at least the window ago and none of whose
    /// devices confirmed delivery (received, opened or dismissed) get the fallback. A watch ends once
    /// the campaign is finished and every window has passed. Returns the fallbacks recorded.
    /// </summary>
    public async Task<int> ScanWindowsAsync(CancellationToken ct)
    {
        // Receipts are read from SDK events: every receipt accepted before the scan must count.
        await ingested.CaughtUpAsync(ct);
        await using var conn = await db.OpenAsync(ct);
        var watches = (await conn.QueryAsync<(long AppId, long CampaignId, long WindowMs, string State)>(
            """
            SELECT w.app_id, w.campaign_id, w.window_ms, COALESCE(c.state, 'gone')
            FROM fallback_watches w LEFT JOIN campaigns c ON c.app_id = w.app_id AND c.id = w.campaign_id
            """)).ToList();
        var recorded = 0;
        foreach (var w in watches)
        {
            var key = new { appId = w.AppId, campaignId = w.CampaignId };
            if (w.State is "gone" or CampaignStates.Recalled)
            {
                await conn.ExecuteAsync("DELETE FROM fallback_watches WHERE app_id = @appId AND campaign_id = @campaignId", key);
                continue;
            }
            var campaign = await campaigns.GetAsync(w.AppId, w.CampaignId, ct, withHistory: false);
            if (campaign?.Definition.Fallback is not { } f) continue;
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var cutoff = now - w.WindowMs;
            await using var tx = await conn.BeginTransactionAsync(ct);
            var late = (await conn.QueryAsync<int>(
                """
                SELECT user_ordinal FROM deliveries
                WHERE app_id = @appId AND campaign_id = @campaignId AND user_ordinal IS NOT NULL
                GROUP BY user_ordinal
                HAVING sum(CASE WHEN state IN ('queued', 'sending', 'delivered', 'opened', 'dismissed', 'recalled')
                                  OR opened_at IS NOT NULL OR dismissed_at IS NOT NULL THEN 1 ELSE 0 END) = 0
                   AND sum(CASE WHEN state = 'sent' THEN 1 ELSE 0 END) > 0
                   AND max(CASE WHEN state = 'sent' THEN sent_at END) <= @cutoff
                """, new { key.appId, key.campaignId, cutoff }, tx)).ToList();
            recorded += await InsertAsync(conn, tx, w.AppId, w.CampaignId, f.Channel, FallbackCauses.NotDelivered, late, now, now);
            if (w.State is CampaignStates.Sent or CampaignStates.Stopped)
            {
                var open = await conn.ExecuteScalarAsync<long>(
                    "SELECT count(*) FROM deliveries WHERE app_id = @appId AND campaign_id = @campaignId AND (state IN ('queued', 'sending') OR (state = 'sent' AND sent_at > @cutoff))",
                    new { key.appId, key.campaignId, cutoff }, tx);
                if (open == 0) await conn.ExecuteAsync("DELETE FROM fallback_watches WHERE app_id = @appId AND campaign_id = @campaignId", key, tx);
            }
            await tx.CommitAsync(ct);
        }
        return recorded;
    }

    private static async Task<int> InsertAsync(DbConnection conn, DbTransaction tx, long appId, long campaignId, string channel, string cause,
        IEnumerable<int> users, long due, long now)
    {
        var rows = users.Select(u => new { appId, campaignId, u, channel, cause, message = MessageId(campaignId, u), due, now }).ToList();
        if (rows.Count == 0) return 0;
        return await conn.ExecuteAsync(
            """
            INSERT INTO fallbacks (app_id, campaign_id, user_ordinal, channel, cause, state, message_id, due_at, created_at, updated_at)
            VALUES (@appId, @campaignId, @u, @channel, @cause, 'pending', @message, @due, @now, @now)
            ON CONFLICT DO NOTHING
            """, rows, tx);
    }

    /// <summary>The campaign's fallback counts, or null when it has no fallback.</summary>
    public static async Task<FallbackReport?> ReportAsync(DbConnection conn, long appId, long campaignId, CampaignDefinition d)
    {
        if (d.Fallback is not { } f) return null;
        var rows = (await conn.QueryAsync<(string Cause, string State, string? Reason, long N)>(
            """
            SELECT cause, state, CASE WHEN state IN ('failed', 'skipped') THEN reason END, count(*)
            FROM fallbacks WHERE app_id = @appId AND campaign_id = @campaignId
            GROUP BY cause, state, CASE WHEN state IN ('failed', 'skipped') THEN reason END
            """, new { appId, campaignId })).ToList();
        IReadOnlyDictionary<string, int> By(IEnumerable<(string Key, long N)> xs) =>
            xs.GroupBy(x => x.Key).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (int)g.Sum(x => x.N));
        return new FallbackReport(f.Channel, (int)rows.Sum(r => r.N),
            By(rows.Select(r => (r.Cause, r.N))), By(rows.Select(r => (r.State, r.N))),
            By(rows.Where(r => r.State == FallbackStates.Failed).Select(r => (r.Reason ?? "unknown", r.N))),
            By(rows.Where(r => r.State == FallbackStates.Skipped).Select(r => (r.Reason ?? "unknown", r.N))));
    }

    public async Task<IReadOnlyList<FallbackView>> ListAsync(long appId, long campaignId, string? state, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<FallbackView>(
            """
            SELECT u.external_id AS ExternalId, f.user_ordinal AS UserOrdinal, f.channel AS Channel, f.cause AS Cause, f.state AS State,
                   f.reason AS Reason, f.message_id AS MessageId, f.attempts AS Attempts, f.created_at AS CreatedAt, f.sent_at AS SentAt
            FROM fallbacks f LEFT JOIN users u ON u.app_id = f.app_id AND u.ordinal = f.user_ordinal
            WHERE f.app_id = @appId AND f.campaign_id = @campaignId AND (@state IS NULL OR f.state = @state)
            ORDER BY f.user_ordinal LIMIT @limit
            """, new { appId, campaignId, state, limit });
        return rows.ToList();
    }
}
