using System.Data.Common;
using System.Globalization;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using Herald.Domain.Scheduling;
using Herald.Server.Apps;
using Herald.Server.Delivery;
using Herald.Domain.Analytics;
using Herald.Domain.Statistics;
using Herald.Server.Infrastructure;
using Herald.Server.Ingest;
using Herald.Server.Segments;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Campaigns;

public sealed record PlanSummary(long CampaignId, string State, int Targeted, int Queued, IReadOnlyDictionary<string, int> Skipped, long? FirstDueAt, long? LastDueAt)
{
    /// <summary>Recipients held back for an A/B test's winner.</summary>
    public int Held { get; init; }
}

/// <summary>
/// Turns a campaign into ledger rows (DESIGN "Campaigns and delivery"): resolves the audience to
/// reachable recipients, applies frequency caps (recorded as skipped with the reason), computes each
/// recipient's send time (local-time schedules in the device's own timezone, then quiet hours and
/// allowed days, which defer and never drop) and writes the rows in chunks. The ledger's primary key
/// makes planning idempotent.
/// </summary>
public sealed class CampaignPlanner(Db db, AppService apps, CampaignService campaigns, SegmentService segments, Geofences.GeofenceService geofences,
    ObserverPump ingested, Fallbacks fallbacks,
    IOptions<DispatchOptions> dispatch, TimeProvider clock)
{
    private const int Chunk = 1000;

    /// <summary>
    /// Whom an A/B split deals with: the user, so all of a person's devices get the same variant (and a
    /// control-group member gets nothing on any phone); an anonymous device on its own.
    /// </summary>
    private static int Person(Candidate c) => c.UserOrdinal ?? -1 - (c.DeviceOrdinal ?? c.Recipient);

    private sealed class Candidate
    {
        public int Recipient { get; init; }
        public int? DeviceOrdinal { get; init; }
        public int? UserOrdinal { get; init; }
        public string? Platform { get; init; }
        public string? Timezone { get; init; }
        public bool Explicit { get; init; }
        /// <summary>An Android token not refreshed for 270 days (R-DLV-2): recorded as skipped, never sent to.</summary>
        public bool Stale { get; init; }
    }

    public async Task<int> AudienceSizeAsync(long appId, CampaignDefinition d, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var candidates = await CandidatesAsync(conn, null, appId, d, ct);
        var reachable = candidates.Count(c => !c.Stale);
        return d.Limits.MaxRecipients is { } max ? Math.Min(max, reachable) : reachable;
    }

    /// <remarks>
    /// <c>approved</c> is true for sends that need no approval of their own: transactional messages,
    /// and the runs of an automation that was approved when it was activated. Otherwise an app that
    /// requires approval refuses a campaign not approved since its last change.
    /// </remarks>
    public async Task<PlanSummary> PlanAsync(long appId, long campaignId, string actor, CancellationToken ct, bool approved = false)
    {
        var campaign = await campaigns.GetAsync(appId, campaignId, ct) ?? throw ProblemException.NotFound($"Campaign {campaignId}");
        if (campaign.State is not (CampaignStates.Draft or CampaignStates.Scheduled))
            throw new ProblemException(409, "Already sent", $"Campaign {campaignId} is {campaign.State}; only a draft or scheduled campaign can be sent.", "state");
        if (campaign.Definition.Trigger is not null || campaign.Definition.Recurrence is not null)
            throw new ProblemException(409, "Automated campaign", $"Campaign {campaignId} has a trigger or recurrence: activate it (POST /api/v1/campaigns/{campaignId}/activate) rather than send it.", "state");
        var app = await apps.GetAsync(appId, ct) ?? throw ProblemException.NotFound("App");
        var d = campaign.Definition;
        var now = clock.GetUtcNow();
        var appZone = TimeZoneInfo.FindSystemTimeZoneById(app.Timezone);
        var window = new DeliveryWindow(Time(app.Limits.QuietHoursStart), Time(app.Limits.QuietHoursEnd));
        var cap = new FrequencyCap(d.Limits.MaxPerUserPerDay, d.Limits.MaxPerUserPerWeek);
        if (!d.Limits.IgnoreAppLimits) cap = cap.And(new FrequencyCap(app.Limits.MaxPushesPerUserPerDay, app.Limits.MaxPushesPerUserPerWeek));

        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var state = await conn.ExecuteScalarAsync<string>(
            db.IsPostgres ? "SELECT state FROM campaigns WHERE app_id = @appId AND id = @campaignId FOR UPDATE" : "SELECT state FROM campaigns WHERE app_id = @appId AND id = @campaignId",
            new { appId, campaignId }, tx);
        if (state is not (CampaignStates.Draft or CampaignStates.Scheduled))
            throw new ProblemException(409, "Already sent", $"Campaign {campaignId} is {state}.", "state");
        if (app.Limits.RequireApproval && !approved) await CampaignApproval.EnsureApprovedAsync(conn, tx, appId, campaignId);
        // A draft has never been planned: its rows can go in by COPY (nothing to conflict with).
        var fresh = state == CampaignStates.Draft;

        var candidates = await CandidatesAsync(conn, tx, appId, d, ct);
        if (d.Limits.MaxRecipients is { } maxRecipients && candidates.Count > maxRecipients)
            candidates = candidates.Take(maxRecipients).ToList();
        // No cap, nothing to count: the look-back over the app's recent ledger is skipped.
        var sentBefore = cap == FrequencyCap.None ? [] : await RecentCountsAsync(conn, tx, appId, now);

        var zones = new Dictionary<string, TimeZoneInfo>(StringComparer.Ordinal);
        var plans = candidates.Select(c =>
        {
            sentBefore.TryGetValue(c.UserOrdinal ?? -1 - (c.DeviceOrdinal ?? 0), out var counts);
            var zone = c.Timezone is { } tz ? zones.TryGetValue(tz, out var z) ? z : zones[tz] = Zone(tz, appZone) : appZone;
            return (Refusal: c.Stale ? Fallbacks.StaleToken : cap.Refuse(counts.Day, counts.Week), Zone: zone, Due: Due(d.Schedule, now, zone));
        }).ToList();
        // A/B test: the cohort and its variants among the recipients not refused; the rest are held
        // until the winner is picked, and due no earlier than that.
        var split = d.AbTest is { } ab
            ? AbSplit.Assign(campaignId, candidates.Where((_, i) => plans[i].Refusal is null).Select(Person), ab.Variants.Count, ab.TestShare, ab.ControlShare)
            : null;
        var decideAt = split is null ? now : candidates.Select((c, i) => (c, i))
            .Where(x => plans[x.i].Refusal is null && split[Person(x.c)] >= 0)
            .Select(x => window.NextAllowed(plans[x.i].Due, plans[x.i].Zone)).DefaultIfEmpty(now).Max() + TimeSpan.FromMinutes(d.AbTest!.DurationMinutes);

        var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
        var rows = new List<LedgerRow>(Math.Min(candidates.Count, Chunk));
        // A draft has no ledger rows yet (planning moves it out of draft in the same transaction that
        // writes them), so nothing can conflict: one binary COPY for the whole plan, streamed while
        // the rows are computed, so PostgreSQL inserts one chunk while the next is being encoded.
        await using var copy = fresh && conn is NpgsqlConnection pg ? await pg.BeginBinaryImportAsync(CopyLedger, ct) : null;
        int queued = 0, held = 0;
        long? first = null, last = null;
        var pending = new List<DeliveryBatches.Pending>();
        var priority = d.Urgent ? 1 : 0;
        for (var i = 0; i < candidates.Count; i++)
        {
            var c = candidates[i];
            var (refusal, zone, scheduled) = plans[i];
            var variant = refusal is null && split is not null ? split[Person(c)] : 0;
            // The control group is sent nothing; its row keeps the time it would have gone out, from
            // which its purchases are counted.
            if (variant == AbSplit.Control) refusal = AbTests.ControlGroup;
            var rowState = refusal is not null ? DeliveryStates.Skipped : variant == AbSplit.Held ? DeliveryStates.Held : DeliveryStates.Queued;
            var due = refusal is not null && variant != AbSplit.Control ? now.ToUnixTimeMilliseconds()
                : window.NextAllowed(rowState == DeliveryStates.Held && decideAt > scheduled ? decideAt : scheduled, zone).ToUnixTimeMilliseconds();
            if (rowState == DeliveryStates.Queued)
            {
                queued++;
                first = first is null ? due : Math.Min(first.Value, due);
                last = last is null ? due : Math.Max(last.Value, due);
            }
            else if (rowState == DeliveryStates.Held) held++;
            else skipped[refusal!] = skipped.GetValueOrDefault(refusal!) + 1;
            if (rowState != DeliveryStates.Skipped) pending.Add(new DeliveryBatches.Pending(due, rowState == DeliveryStates.Held, c.Recipient));
            rows.Add(new LedgerRow(appId, campaignId, c.Recipient, c.DeviceOrdinal, c.UserOrdinal, c.Platform, LedgerMessageId.Format(campaignId, c.Recipient),
                priority, rowState, refusal, due, now.ToUnixTimeMilliseconds(), variant));
            if (rows.Count == Chunk) { await InsertAsync(conn, tx, rows, copy); rows.Clear(); }
        }
        await InsertAsync(conn, tx, rows, copy);
        if (copy is not null)
        {
            await copy.CompleteAsync(ct);
            await copy.DisposeAsync(); // the connection leaves the COPY state only when the importer is disposed
        }
        // The send queue: batches of the rows just written (a campaign planned before may have rows
        // of its earlier plan, which keep their time: its batches are written anew from the ledger).
        if (fresh) await DeliveryBatches.InsertAsync(db, conn, tx, appId, campaignId, priority, pending, dispatch.Value.ChunkSize);
        else await DeliveryBatches.RebuildAsync(db, conn, tx, appId, campaignId, priority, dispatch.Value.ChunkSize);
        await fallbacks.PlanAsync(conn, tx, appId, campaignId, d, ct);

        var next = first is { } f && f > now.AddMinutes(1).ToUnixTimeMilliseconds() ? CampaignStates.Scheduled : CampaignStates.Sending;
        await conn.ExecuteAsync("UPDATE campaigns SET state = @next, updated_at = @at WHERE app_id = @appId AND id = @campaignId",
            new { appId, campaignId, next, at = now.ToUnixTimeMilliseconds() }, tx);
        var abNote = "";
        if (split is not null)
        {
            await conn.ExecuteAsync("INSERT INTO campaign_ab_tests (app_id, campaign_id, decide_at, control_share) VALUES (@appId, @campaignId, @at, @control) ON CONFLICT DO NOTHING",
                new { appId, campaignId, at = decideAt.ToUnixTimeMilliseconds(), control = d.AbTest!.ControlShare }, tx);
            var control = skipped.GetValueOrDefault(AbTests.ControlGroup);
            abNote = $"; A/B test: {queued} in the test, {held} held for the winner{(control > 0 ? $", {control} in the control group" : "")}, picked at {decideAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC";
        }
        await CampaignService.RecordAsync(conn, tx, appId, campaignId, state, next, actor,
            $"planned {queued} of {candidates.Count}{abNote}", now.ToUnixTimeMilliseconds());
        await tx.CommitAsync(ct);
        foreach (var segmentId in (d.Audience.IncludeSegments ?? []).Concat(d.Audience.ExcludeSegments ?? []).Distinct())
            await segments.MarkUsedAsync(appId, segmentId, ct);
        return new PlanSummary(campaignId, next, candidates.Count, queued, skipped, first, last) { Held = held };
    }

    private sealed record LedgerRow(long AppId, long CampaignId, int Recipient, int? DeviceOrdinal, int? UserOrdinal, string? Platform,
        string MessageId, int Priority, string State, string? Reason, long Due, long Now, int Variant);

    private const string CopyLedger =
        "COPY deliveries (app_id, campaign_id, recipient, device_ordinal, user_ordinal, platform, message_id, priority, state, reason, due_at, updated_at, variant) FROM STDIN (FORMAT BINARY)";

    private async Task InsertAsync(DbConnection conn, DbTransaction tx, List<LedgerRow> rows, NpgsqlBinaryImporter? copy)
    {
        if (rows.Count == 0) return;
        if (copy is not null)
        {
            // Synchronous writes: they go to the importer's buffer, and only a full buffer waits on
            // the socket (thirteen awaits a row cost more than the rare blocked flush).
            foreach (var r in rows)
            {
                copy.StartRow();
                copy.Write(r.AppId, NpgsqlDbType.Bigint);
                copy.Write(r.CampaignId, NpgsqlDbType.Bigint);
                copy.Write(r.Recipient, NpgsqlDbType.Integer);
                WriteNullable(copy, r.DeviceOrdinal);
                WriteNullable(copy, r.UserOrdinal);
                if (r.Platform is null) copy.WriteNull(); else copy.Write(r.Platform, NpgsqlDbType.Text);
                copy.Write(r.MessageId, NpgsqlDbType.Text);
                copy.Write(r.Priority, NpgsqlDbType.Integer);
                copy.Write(r.State, NpgsqlDbType.Text);
                if (r.Reason is null) copy.WriteNull(); else copy.Write(r.Reason, NpgsqlDbType.Text);
                copy.Write(r.Due, NpgsqlDbType.Bigint);
                copy.Write(r.Now, NpgsqlDbType.Bigint);
                copy.Write(r.Variant, NpgsqlDbType.Integer);
            }
            return;
        }
        if (db.IsPostgres)
            // One statement per chunk: arrays unnested into rows.
        {
            await conn.ExecuteAsync(
                """
                INSERT INTO deliveries (app_id, campaign_id, recipient, device_ordinal, user_ordinal, platform, message_id, priority, state, reason, due_at, updated_at, variant)
                SELECT @app, @campaign, v.r, v.d, v.u, v.p, v.m, @priority, v.s, v.why, v.due, @now, v.variant
                FROM unnest(@recipients, @devices, @users, @platforms, @messages, @states, @reasons, @dues, @variants) AS v(r, d, u, p, m, s, why, due, variant)
                ON CONFLICT DO NOTHING
                """,
                new
                {
                    app = rows[0].AppId, campaign = rows[0].CampaignId, priority = rows[0].Priority, now = rows[0].Now,
                    recipients = rows.Select(r => r.Recipient).ToArray(), devices = rows.Select(r => r.DeviceOrdinal).ToArray(),
                    users = rows.Select(r => r.UserOrdinal).ToArray(), platforms = rows.Select(r => r.Platform).ToArray(),
                    messages = rows.Select(r => r.MessageId).ToArray(), states = rows.Select(r => r.State).ToArray(),
                    reasons = rows.Select(r => r.Reason).ToArray(), dues = rows.Select(r => r.Due).ToArray(),
                    variants = rows.Select(r => r.Variant).ToArray(),
                }, tx);
            return;
        }
        await conn.ExecuteAsync(
            """
            INSERT INTO deliveries (app_id, campaign_id, recipient, device_ordinal, user_ordinal, platform, message_id, priority, state, reason, due_at, updated_at, variant)
            VALUES (@AppId, @CampaignId, @Recipient, @DeviceOrdinal, @UserOrdinal, @Platform, @MessageId, @Priority, @State, @Reason, @Due, @Now, @Variant)
            ON CONFLICT DO NOTHING
            """, rows, tx);
    }

    private static void WriteNullable(NpgsqlBinaryImporter copy, int? value)
    {
        if (value is { } v) copy.Write(v, NpgsqlDbType.Integer);
        else copy.WriteNull();
    }

    /// <summary>
    /// Reachable recipients: push-enabled devices with a token that are not uninstalled, or opted-in
    /// users with an address — and of those, the ones the audience names: everyone, explicit users or
    /// devices, members of the included segments, minus members of the excluded ones.
    /// </summary>
    private async Task<List<Candidate>> CandidatesAsync(DbConnection conn, DbTransaction? tx, long appId, CampaignDefinition d, CancellationToken ct)
    {
        var a = d.Audience;
        var users = a.Users ?? [];
        var devices = a.Devices ?? [];
        var include = await UnionAsync(appId, a.IncludeSegments, ct);
        if (a.Geofences is { Count: > 0 } fences)
        {
            await ingested.CaughtUpAsync(ct); // enter / exit reports accepted before the send count
            var inside = new List<RoaringBitmap>();
            foreach (var id in fences.Distinct()) inside.Add(await geofences.InsideAsync(appId, id, null, ct));
            include = RoaringBitmap.OrMany(include is null ? inside : [include, .. inside]);
        }
        var exclude = await UnionAsync(appId, a.ExcludeSegments, ct);
        var explicitFilter = !a.All && include is null;
        List<Candidate> found;
        if (d.Channel is CampaignChannels.Push or CampaignChannels.WebPush)
        {
            var platforms = (d.Channel == CampaignChannels.WebPush ? ["web"] : new[] { "ios", "android" })
                .Where(p => a.Platforms is not { Count: > 0 } || a.Platforms.Contains(p)).ToArray();
            if (platforms.Length == 0) return [];
            var isExplicit = $"({db.In("d.installation_id", "devices")} OR {db.In("u.external_id", "users")})";
            // Only the named devices and the devices of the named users are read (by index), not every
            // device of the app: a transactional send to a few people stays fast however big the app is.
            var named = $"""
                d.ordinal IN (SELECT n.ordinal FROM devices n WHERE n.app_id = @appId AND {db.In("n.installation_id", "devices")}
                              UNION ALL
                              SELECT n.ordinal FROM users m JOIN devices n ON n.app_id = m.app_id AND n.user_ordinal = m.ordinal
                              WHERE m.app_id = @appId AND {db.In("m.external_id", "users")})
                """;
            var sql = $"""
                SELECT d.ordinal AS Recipient, d.ordinal AS DeviceOrdinal, d.user_ordinal AS UserOrdinal, d.platform AS Platform, d.timezone AS Timezone,
                       CASE WHEN {isExplicit} THEN TRUE ELSE FALSE END AS Explicit,
                       CASE WHEN {DeliveryFeedback.NotStaleSql} THEN FALSE ELSE TRUE END AS Stale
                FROM devices d LEFT JOIN users u ON u.app_id = d.app_id AND u.ordinal = d.user_ordinal
                WHERE d.app_id = @appId AND d.uninstalled_at IS NULL AND d.push_enabled AND d.push_token IS NOT NULL
                  AND {db.In("d.platform", "platforms")} AND (u.ordinal IS NULL OR u.optin_push)
                  {(explicitFilter ? "AND " + isExplicit + " AND " + named : "")}
                ORDER BY d.ordinal
                """;
            found = (await conn.QueryAsync<Candidate>(sql, new { appId, platforms, devices = devices.ToArray(), users = users.ToArray(), staleBefore = (clock.GetUtcNow() - DeliveryFeedback.AndroidTokenStaleAfter).ToUnixTimeMilliseconds() }, tx)).ToList();
            return found.Where(c => a.All || c.Explicit || include?.Contains((uint)c.DeviceOrdinal!.Value) == true)
                .Where(c => exclude?.Contains((uint)c.DeviceOrdinal!.Value) != true).ToList();
        }
        var (address, optin) = d.Channel == CampaignChannels.Email ? ("email", "optin_email") : ("phone", "optin_sms");
        var userIsExplicit = db.In("u.external_id", "users");
        var userSql = $"""
            SELECT u.ordinal AS Recipient, u.ordinal AS UserOrdinal, CASE WHEN {userIsExplicit} THEN TRUE ELSE FALSE END AS Explicit
            FROM users u
            WHERE u.app_id = @appId AND u.deleted_at IS NULL AND u.merged_into IS NULL AND u.{address} IS NOT NULL AND u.{optin}
              {(explicitFilter ? "AND " + userIsExplicit : "")}
            ORDER BY u.ordinal
            """;
        found = (await conn.QueryAsync<Candidate>(userSql, new { appId, users = users.ToArray() }, tx)).ToList();
        if (include is null && exclude is null) return found;
        // Segments are sets of devices: a user is in one when any of their devices is.
        var owners = (await conn.QueryAsync<(long device, long user)>(
            "SELECT ordinal, user_ordinal FROM devices WHERE app_id = @appId AND user_ordinal IS NOT NULL", new { appId }, tx)).ToList();
        HashSet<int>? Users(RoaringBitmap? bits) => bits is null ? null
            : owners.Where(o => bits.Contains((uint)o.device)).Select(o => (int)o.user).ToHashSet();
        var inUsers = Users(include);
        var outUsers = Users(exclude);
        return found.Where(c => a.All || c.Explicit || inUsers?.Contains(c.Recipient) == true)
            .Where(c => outUsers?.Contains(c.Recipient) != true).ToList();
    }

    private async Task<RoaringBitmap?> UnionAsync(long appId, List<long>? segmentIds, CancellationToken ct)
    {
        if (segmentIds is not { Count: > 0 }) return null;
        await ingested.CaughtUpAsync(ct); // segments judge by events: see every accepted one
        var members = new List<RoaringBitmap>();
        foreach (var id in segmentIds.Distinct())
            members.Add(await segments.MembersAsync(appId, id, ct));
        return RoaringBitmap.OrMany(members);
    }

    /// <summary>
    /// Campaigns each person received in the last day and week (a person is a user, or an anonymous
    /// device). Read campaign by campaign (by primary key): only campaigns still sending, or whose
    /// state changed within the week, can have sent anything in it — a campaign's last change (sent,
    /// stopped, recalled) comes after its last message.
    /// </summary>
    private static async Task<Dictionary<int, (int Day, int Week)>> RecentCountsAsync(DbConnection conn, DbTransaction tx, long appId, DateTimeOffset now)
    {
        var rows = await conn.QueryAsync<(long who, long day, long week)>(
            """
            SELECT CAST(COALESCE(user_ordinal, -1 - device_ordinal) AS bigint) AS who,
                   count(DISTINCT CASE WHEN sent_at >= @day THEN campaign_id END) AS day,
                   count(DISTINCT campaign_id) AS week
            FROM deliveries
            WHERE app_id = @appId AND sent_at >= @week
              AND campaign_id IN (SELECT id FROM campaigns WHERE app_id = @appId AND (updated_at >= @week OR state IN ('scheduled', 'sending', 'active')))
            GROUP BY COALESCE(user_ordinal, -1 - device_ordinal)
            """, new { appId, day = now.AddDays(-1).ToUnixTimeMilliseconds(), week = now.AddDays(-7).ToUnixTimeMilliseconds() }, tx);
        return rows.ToDictionary(r => (int)r.who, r => ((int)r.day, (int)r.week));
    }

    private static DateTimeOffset Due(ScheduleDefinition s, DateTimeOffset now, TimeZoneInfo zone)
    {
        var due = s.Type switch
        {
            "at" => s.At!.Value,
            "local" => LocalTimes.At(DateOnly.ParseExact(s.LocalDate!, "yyyy-MM-dd", CultureInfo.InvariantCulture),
                TimeOnly.ParseExact(s.LocalTime!, "HH:mm", CultureInfo.InvariantCulture), zone),
            _ => now,
        };
        // A local time already past in a zone goes out now rather than being dropped.
        return due < now ? now : due;
    }

    private static TimeZoneInfo Zone(string tz, TimeZoneInfo fallback) =>
        TimeZoneInfo.TryFindSystemTimeZoneById(tz, out var z) ? z : fallback;

    private static TimeOnly? Time(string? hhmm) =>
        hhmm is null ? null : TimeOnly.ParseExact(hhmm, "HH:mm", CultureInfo.InvariantCulture);
}
