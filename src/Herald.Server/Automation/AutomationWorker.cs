using System.ComponentModel.DataAnnotations;
using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Dapper;
using Herald.Domain.Analytics;
using Herald.Domain.Scheduling;
using Herald.Server.Campaigns;
using Herald.Server.Ingest;
using Herald.Server.Segments;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Automation;

/// <summary>Wakes the automation worker (a trigger became due now); shared so the ingest observer need not depend on the worker.</summary>
public sealed class AutomationWake
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Wake() => _wake.Writer.TryWrite(true);

    public ChannelReader<bool> Reader => _wake.Reader;
}

/// <summary>Bound from <c>Herald:Automation</c>.</summary>
public sealed class AutomationOptions
{
    public const string Section = "Herald:Automation";

    /// <summary>How often an idle node looks for due triggers and recurrences (a matching event wakes it at once).</summary>
    public TimeSpan Poll { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Inactivity triggers scan the app's devices at most this often (by the business clock): a scan reads every device.</summary>
    public TimeSpan InactivityScan { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Due triggers one firing takes (one run campaign each).</summary>
    [Range(1, 10_000)] public int BatchSize { get; set; } = 1000;
}

/// <summary>
/// The durable side of automation (R-MSG-5). Each pass: recurring campaigns get their run for the
/// latest date whose send time has begun somewhere on earth; segment entries and inactive people
/// become pending triggers; due triggers fire — checked against re-entry rules and (absence,
/// inactivity) against what the person did meanwhile — into a run campaign, in the transaction that
/// marks them fired; runs still in draft are planned (frequency caps, quiet hours) and dispatched.
/// Everything lives in the database, so a restart loses nothing, and claims (row state, run keys,
/// FOR UPDATE SKIP LOCKED on PostgreSQL) keep two passes or nodes from firing the same thing.
/// </summary>
public sealed partial class AutomationWorker(Db db, AutomationService automation, CampaignService campaigns, SegmentService segments,
    DispatchWorker dispatch, ObserverPump ingested, AutomationWake wake, IOptions<AutomationOptions> options, TimeProvider clock, ILogger<AutomationWorker> logger) : BackgroundService
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    // The earliest timezone on earth: a date's local time has begun somewhere once it is reached at UTC+14.
    private static readonly TimeZoneInfo Earliest = TimeZoneInfo.CreateCustomTimeZone("UTC+14", TimeSpan.FromHours(14), "UTC+14", "UTC+14");
    private readonly AutomationOptions _o = options.Value;
    private readonly SemaphoreSlim _pass = new(1, 1);
    private readonly Dictionary<long, DateTimeOffset> _lastScan = [];

    public void Wake() => wake.Wake();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await PassAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception e) { LogPassFailed(logger, e); } // a database error is not "nothing to do": try again
            try
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                wait.CancelAfter(_o.Poll);
                await wake.Reader.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>One pass over everything automated; passes on one node do not overlap.</summary>
    public async Task PassAsync(CancellationToken ct)
    {
        await _pass.WaitAsync(ct);
        try
        {
            // Events accepted before now have been seen by the observers: their triggers, cancels and segment entries are written.
            await ingested.CaughtUpAsync(ct);
            List<(long AppId, long Id, CampaignDefinition Definition, long ActivatedAt)> active;
            await using (var conn = await db.OpenAsync(ct))
                active = (await conn.QueryAsync<(long AppId, long Id, string Definition, long ActivatedAt)>(
                    """
                    SELECT c.app_id, c.id, c.definition, COALESCE(a.activated_at, c.updated_at)
                    FROM campaigns c LEFT JOIN automation_cursors a ON a.app_id = c.app_id AND a.campaign_id = c.id
                    WHERE c.state = 'active'
                    """)).Select(r => (r.AppId, r.Id, JsonSerializer.Deserialize<CampaignDefinition>(r.Definition, Json)!, r.ActivatedAt)).ToList();
            foreach (var (appId, id, d, activatedAt) in active)
            {
                if (d.Recurrence is { } r) await RecurAsync(appId, id, r, activatedAt, ct);
                else if (d.Trigger is { Type: TriggerTypes.SegmentEntry } s) await SegmentEntriesAsync(appId, id, s, ct);
                else if (d.Trigger is { Type: TriggerTypes.Inactivity } i) await InactiveAsync(appId, id, i, ct);
            }
            // Bounded, so rows another node holds locked cannot keep this pass spinning.
            for (var i = 0; i < 100 && await FireAsync(ct); i++) { }
            await PlanDraftRunsAsync(ct);
        }
        finally { _pass.Release(); }
    }

    // ---- recurrence ----

    /// <summary>The latest date whose local send time has begun in the earliest timezone, if it began after activation.</summary>
    public static DateOnly? RunDate(RecurrenceDefinition r, DateTimeOffset now, DateTimeOffset activatedAt)
    {
        var date = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, Earliest).DateTime);
        for (var i = 0; i < 8; i++, date = date.AddDays(-1))
        {
            var begins = LocalTimes.At(date, r.Time, Earliest);
            if (begins > now) continue;
            if (begins < activatedAt) return null;
            if (r.Day is { } day && date.DayOfWeek != day) continue;
            return date;
        }
        return null;
    }

    private async Task RecurAsync(long appId, long id, RecurrenceDefinition r, long activatedAt, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        if (RunDate(r, now, DateTimeOffset.FromUnixTimeMilliseconds(activatedAt)) is not { } date) return;
        var key = date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        await using (var conn = await db.OpenAsync(ct))
            if (await conn.ExecuteScalarAsync<long>("SELECT count(*) FROM campaign_runs WHERE app_id = @appId AND campaign_id = @id AND run_key = @key", new { appId, id, key }) > 0)
                return;
        var parent = await campaigns.GetAsync(appId, id, ct, withHistory: false);
        if (parent is null) return;
        long? runId;
        await using (var conn = await db.OpenAsync(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            runId = await AutomationService.CreateRunAsync(conn, tx, appId, parent, key, parent.Definition.Audience,
                new ScheduleDefinition { Type = "local", LocalDate = key, LocalTime = r.LocalTime }, now.ToUnixTimeMilliseconds());
            if (runId is null) { await tx.RollbackAsync(ct); return; }
            await tx.CommitAsync(ct);
        }
        await PlanAsync(appId, runId.Value, ct);
    }

    // ---- feeds that become pending triggers ----

    private async Task SegmentEntriesAsync(long appId, long id, TriggerDefinition t, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var position = await conn.ExecuteScalarAsync<long?>(
            $"SELECT position FROM automation_cursors WHERE app_id = @appId AND campaign_id = @id{(db.IsPostgres ? " FOR UPDATE SKIP LOCKED" : "")}", new { appId, id }, tx);
        if (position is null) { await tx.RollbackAsync(ct); return; }
        var entries = (await conn.QueryAsync<(long Id, int Device, int? User, long At)>(
            """
            SELECT c.id, c.device_ordinal, d.user_ordinal, c.at FROM segment_changes c
            LEFT JOIN devices d ON d.app_id = c.app_id AND d.ordinal = c.device_ordinal
            WHERE c.app_id = @appId AND c.segment_id = @segment AND c.id > @position AND c.entered ORDER BY c.id LIMIT @n
            """, new { appId, segment = t.SegmentId, position, n = _o.BatchSize }, tx)).ToList();
        if (entries.Count == 0)
        {
            await tx.RollbackAsync(ct);
            return;
        }
        await InsertPendingAsync(conn, tx, entries.Select(e => new Pending(appId, id, TriggerObserver.Subject(e.User, e.Device), $"segment:{e.Id}",
            e.User, e.User is null ? e.Device : null, e.At, Math.Max(e.At + t.DelaySeconds * 1000L, now), now)));
        // The cursor moves past the whole page, also past the "left" changes the query skipped.
        var last = await conn.ExecuteScalarAsync<long>(
            "SELECT COALESCE(max(id), @position) FROM segment_changes WHERE app_id = @appId AND segment_id = @segment AND id > @position AND id <= @through",
            new { appId, segment = t.SegmentId, position, through = entries[^1].Id }, tx);
        await conn.ExecuteAsync("UPDATE automation_cursors SET position = @last WHERE app_id = @appId AND campaign_id = @id", new { appId, id, last }, tx);
        await tx.CommitAsync(ct);
    }

    private async Task InactiveAsync(long appId, long id, TriggerDefinition t, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        lock (_lastScan)
        {
            if (_lastScan.TryGetValue(id, out var last) && now - last < _o.InactivityScan) return;
            _lastScan[id] = now;
        }
        var cutoff = now.AddDays(-t.InactiveDays!.Value).ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        // A person is a user (all their devices) or an anonymous device; quiet since the cutoff on every device.
        var quiet = (await conn.QueryAsync<(int? User, int Device, long LastSeen)>(
            """
            SELECT user_ordinal, min(ordinal), max(last_seen_at) FROM devices
            WHERE app_id = @appId AND uninstalled_at IS NULL
            GROUP BY user_ordinal, CASE WHEN user_ordinal IS NULL THEN ordinal END
            HAVING max(last_seen_at) < @cutoff
            """, new { appId, cutoff })).ToList();
        if (quiet.Count == 0) return;
        var at = now.ToUnixTimeMilliseconds();
        await using var tx = await conn.BeginTransactionAsync(ct);
        // One occurrence per stretch of silence: the same silence is not triggered twice; a new one may be (re-entry permitting).
        await InsertPendingAsync(conn, tx, quiet.Select(q => new Pending(appId, id, TriggerObserver.Subject(q.User, q.Device), $"inactive:{q.LastSeen}",
            q.User, q.User is null ? q.Device : null, q.LastSeen, at + t.DelaySeconds * 1000L, at)));
        await tx.CommitAsync(ct);
    }

    private sealed record Pending(long App, long Campaign, string Subject, string Occurrence, int? User, int? Device, long Started, long Due, long Now);

    private static Task InsertPendingAsync(DbConnection conn, DbTransaction tx, IEnumerable<Pending> rows) => conn.ExecuteAsync(
        """
        INSERT INTO pending_triggers (app_id, campaign_id, subject, occurrence, user_ordinal, device_ordinal, state, started_at, due_at, updated_at)
        VALUES (@App, @Campaign, @Subject, @Occurrence, @User, @Device, 'pending', @Started, @Due, @Now)
        ON CONFLICT DO NOTHING
        """, rows, tx);

    // ---- firing ----

    private sealed class Due
    {
        public long AppId { get; init; }
        public long CampaignId { get; init; }
        public string Subject { get; init; } = "";
        public string Occurrence { get; init; } = "";
        public int? UserOrdinal { get; init; }
        public int? DeviceOrdinal { get; init; }
        public long StartedAt { get; init; }
    }

    /// <summary>Fires one batch of due triggers of one campaign; false when nothing is due.</summary>
    public async Task<bool> FireAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        long appId, campaignId;
        await using (var conn = await db.OpenAsync(ct))
        {
            var next = await conn.QueryFirstOrDefaultAsync<(long AppId, long CampaignId)?>(
                "SELECT app_id, campaign_id FROM pending_triggers WHERE state = 'pending' AND due_at <= @now ORDER BY due_at LIMIT 1", new { now });
            if (next is null) return false;
            (appId, campaignId) = next.Value;
        }
        var parent = await campaigns.GetAsync(appId, campaignId, ct, withHistory: false);
        long? runId = null;
        await using (var conn = await db.OpenAsync(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            var due = (await conn.QueryAsync<Due>(
                $"""
                SELECT app_id AS AppId, campaign_id AS CampaignId, subject AS Subject, occurrence AS Occurrence, user_ordinal AS UserOrdinal,
                       device_ordinal AS DeviceOrdinal, started_at AS StartedAt
                FROM pending_triggers WHERE app_id = @appId AND campaign_id = @campaignId AND state = 'pending' AND due_at <= @now
                ORDER BY due_at LIMIT @n{(db.IsPostgres ? " FOR UPDATE SKIP LOCKED" : "")}
                """, new { appId, campaignId, now, n = _o.BatchSize }, tx)).ToList();
            if (due.Count == 0) { await tx.RollbackAsync(ct); return true; } // another node took them
            if (parent is not { State: CampaignStates.Active, Definition.Trigger: { } trigger })
            {
                await SetAsync(conn, tx, due, "cancelled", "campaign not active", null, now);
                await tx.CommitAsync(ct);
                return true;
            }
            var outcome = await JudgeAsync(conn, tx, appId, campaignId, parent.Definition, trigger, due, now, ct);
            foreach (var group in outcome.Where(o => o.Value is not null).GroupBy(o => o.Value!))
                await SetAsync(conn, tx, group.Select(g => g.Key).ToList(), group.Key.StartsWith("re-entry", StringComparison.Ordinal) ? "skipped" : "cancelled", group.Key, null, now);
            var firing = outcome.Where(o => o.Value is null).Select(o => o.Key).ToList();
            if (firing.Count > 0)
            {
                var users = firing.Where(f => f.UserOrdinal is not null).Select(f => f.UserOrdinal!.Value).ToArray();
                var devices = firing.Where(f => f.UserOrdinal is null).Select(f => f.DeviceOrdinal!.Value).ToArray();
                var externalIds = (await conn.QueryAsync<string>(
                    $"SELECT external_id FROM users WHERE app_id = @appId AND {db.In("ordinal", "users")} AND external_id IS NOT NULL AND deleted_at IS NULL",
                    new { appId, users }, tx)).ToList();
                var installations = (await conn.QueryAsync<string>(
                    $"SELECT installation_id FROM devices WHERE app_id = @appId AND {db.In("ordinal", "devices")}", new { appId, devices }, tx)).ToList();
                var a = parent.Definition.Audience;
                var audience = new AudienceDefinition { Users = externalIds, Devices = installations, Platforms = a.Platforms, ExcludeSegments = a.ExcludeSegments };
                runId = await AutomationService.CreateRunAsync(conn, tx, appId, parent, null, audience, new ScheduleDefinition(), now);
                await SetAsync(conn, tx, firing, "fired", null, runId, now);
            }
            await tx.CommitAsync(ct);
        }
        if (runId is { } id) await PlanAsync(appId, id, ct);
        return true;
    }

    /// <summary>Null for a trigger that fires; else why it does not.</summary>
    private async Task<Dictionary<Due, string?>> JudgeAsync(DbConnection conn, DbTransaction tx, long appId, long campaignId, CampaignDefinition d,
        TriggerDefinition t, List<Due> due, long now, CancellationToken ct)
    {
        var result = new Dictionary<Due, string?>();
        var subjects = due.Select(x => x.Subject).Distinct().ToArray();
        var lastFired = (await conn.QueryAsync<(string Subject, long At)>(
            $"SELECT subject, max(updated_at) FROM pending_triggers WHERE app_id = @appId AND campaign_id = @campaignId AND state = 'fired' AND {db.In("subject", "subjects")} GROUP BY subject",
            new { appId, campaignId, subjects }, tx)).ToDictionary(r => r.Subject, r => r.At, StringComparer.Ordinal);
        var include = d.Audience.IncludeSegments is { Count: > 0 } ids ? await MembersAsync(appId, ids, ct) : null;
        foreach (var x in due)
        {
            string? why = null;
            if (lastFired.TryGetValue(x.Subject, out var at))
                why = t.Reentry switch
                {
                    "once" => "re-entry: once per person",
                    "every_time" => null,
                    _ => at > now - t.ReentryDays!.Value * 86_400_000L ? $"re-entry: at most every {t.ReentryDays} days" : null,
                };
            why ??= t.Type switch
            {
                TriggerTypes.Absence when await DidAsync(conn, tx, appId, x, t.CancelEvent!) => $"cancelled by {t.CancelEvent}",
                TriggerTypes.Inactivity when await SeenSinceAsync(conn, tx, appId, x) => "active again",
                _ => null,
            };
            if (why is null && include is not null && !await InAnyAsync(conn, tx, appId, x, include)) why = "not in the audience's segments";
            result[x] = why;
            if (why is null) lastFired[x.Subject] = now; // two due triggers of one person in one batch: re-entry applies between them
        }
        return result;
    }

    private async Task<bool> DidAsync(DbConnection conn, DbTransaction tx, long appId, Due x, string name) =>
        await conn.ExecuteScalarAsync<long>(
            x.UserOrdinal is not null
                ? "SELECT count(*) FROM (SELECT 1 FROM events WHERE app_id = @appId AND user_ordinal = @user AND name = @name AND occurred_at >= @since LIMIT 1) e"
                : "SELECT count(*) FROM (SELECT 1 FROM events WHERE app_id = @appId AND device_ordinal = @device AND name = @name AND occurred_at >= @since LIMIT 1) e",
            new { appId, user = x.UserOrdinal, device = x.DeviceOrdinal, name, since = x.StartedAt }, tx) > 0;

    private static async Task<bool> SeenSinceAsync(DbConnection conn, DbTransaction tx, long appId, Due x) =>
        await conn.ExecuteScalarAsync<long?>(
            "SELECT max(last_seen_at) FROM devices WHERE app_id = @appId AND (user_ordinal = @user OR (@user IS NULL AND ordinal = @device))",
            new { appId, user = x.UserOrdinal, device = x.DeviceOrdinal }, tx) > x.StartedAt;

    private async Task<RoaringBitmap> MembersAsync(long appId, List<long> ids, CancellationToken ct)
    {
        var all = new List<RoaringBitmap>();
        foreach (var id in ids.Distinct()) all.Add(await segments.MembersAsync(appId, id, ct));
        return RoaringBitmap.OrMany(all);
    }

    private static async Task<bool> InAnyAsync(DbConnection conn, DbTransaction tx, long appId, Due x, RoaringBitmap members)
    {
        if (x.UserOrdinal is null) return members.Contains((uint)x.DeviceOrdinal!.Value);
        var devices = await conn.QueryAsync<int>("SELECT ordinal FROM devices WHERE app_id = @appId AND user_ordinal = @user", new { appId, user = x.UserOrdinal }, tx);
        return devices.Any(d => members.Contains((uint)d));
    }

    private static Task SetAsync(DbConnection conn, DbTransaction tx, IEnumerable<Due> rows, string state, string? reason, long? runId, long now) => conn.ExecuteAsync(
        """
        UPDATE pending_triggers SET state = @state, reason = @reason, run_id = @runId, updated_at = @now
        WHERE app_id = @AppId AND campaign_id = @CampaignId AND subject = @Subject AND occurrence = @Occurrence AND state = 'pending'
        """, rows.Select(r => new { state, reason, runId, now, r.AppId, r.CampaignId, r.Subject, r.Occurrence }), tx);

    // ---- planning ----

    /// <summary>Runs created but not planned (the node stopped in between) are planned now.</summary>
    private async Task PlanDraftRunsAsync(CancellationToken ct)
    {
        List<(long AppId, long Id)> drafts;
        await using (var conn = await db.OpenAsync(ct))
            drafts = (await conn.QueryAsync<(long, long)>(
                "SELECT r.app_id, r.run_campaign_id FROM campaign_runs r JOIN campaigns c ON c.app_id = r.app_id AND c.id = r.run_campaign_id WHERE c.state = 'draft'")).ToList();
        foreach (var (appId, id) in drafts) await PlanAsync(appId, id, ct);
    }

    private async Task PlanAsync(long appId, long runId, CancellationToken ct)
    {
        var plan = await automation.PlanRunAsync(appId, runId, ct);
        if (plan is { Queued: > 0 }) dispatch.Wake();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Automation pass failed; retrying")]
    private static partial void LogPassFailed(ILogger logger, Exception e);
}
