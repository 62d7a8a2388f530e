using System.Data.Common;
using System.Text.Json;
using Dapper;
using Herald.Server.Campaigns;
using Herald.Server.Infrastructure;
using Herald.Server.Segments;
using Herald.Server.Storage;

namespace Herald.Server.Automation;

public sealed record RunView(string RunKey, long CampaignId, string State, long CreatedAt, int Sent);

/// <summary>What an automated campaign has done: its triggers by state and its runs, newest first.</summary>
public sealed record AutomationView(long CampaignId, string State, IReadOnlyDictionary<string, int> Triggers, int Sent, IReadOnlyList<RunView> Runs);

/// <summary>
/// Activation of triggered and recurring campaigns (R-MSG-5), and their runs. A run is a child
/// campaign created inside the transaction that claims what it sends — due triggers move to
/// 'fired', or a recurrence's date key is taken in <c>campaign_runs</c> — and then planned like any
/// campaign (frequency caps, quiet hours, local time). Planning is idempotent (only a draft is
/// planned), so a run whose planning was interrupted is planned by the next pass, once.
/// </summary>
public sealed class AutomationService(Db db, CampaignService campaigns, CampaignPlanner planner, SegmentService segments, Apps.AppService apps, TimeProvider clock)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    public const string Actor = "automation";

    public async Task<CampaignView> ActivateAsync(long appId, long id, string actor, CancellationToken ct)
    {
        var campaign = await campaigns.GetAsync(appId, id, ct) ?? throw ProblemException.NotFound($"Campaign {id}");
        var d = campaign.Definition;
        if (d.Trigger is null && d.Recurrence is null)
            throw new ProblemException(409, "Not automated", $"Campaign {id} has neither a trigger nor a recurrence: send it instead.", "trigger");
        if (d.Trigger is { Type: TriggerTypes.SegmentEntry, SegmentId: { } segmentId })
        {
            var segment = await segments.GetAsync(appId, segmentId, ct) ?? throw ProblemException.NotFound($"Segment {segmentId}");
            if (!segment.Realtime)
                throw new ProblemException(409, "Segment not real-time", $"Segment {segmentId} is not real-time; a segment_entry trigger needs entries as they happen.", "trigger.segmentId");
        }
        var requireApproval = (await apps.GetAsync(appId, ct))?.Limits.RequireApproval == true;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var state = await conn.ExecuteScalarAsync<string?>(
            $"SELECT state FROM campaigns WHERE app_id = @appId AND id = @id{(db.IsPostgres ? " FOR UPDATE" : "")}", new { appId, id }, tx);
        if (state != CampaignStates.Draft)
            throw new ProblemException(409, "Cannot activate", $"Campaign {id} is {state}; only a draft can be activated.", "state");
        if (requireApproval) await CampaignApproval.EnsureApprovedAsync(conn, tx, appId, id);
        // Segment entries are read from here on: people already inside do not count as entering.
        var position = await conn.ExecuteScalarAsync<long?>("SELECT max(id) FROM segment_changes WHERE app_id = @appId", new { appId }, tx) ?? 0;
        await conn.ExecuteAsync(
            "INSERT INTO automation_cursors (app_id, campaign_id, position, activated_at) VALUES (@appId, @id, @position, @now) ON CONFLICT DO NOTHING",
            new { appId, id, position, now }, tx);
        await conn.ExecuteAsync("UPDATE campaigns SET state = @active, updated_at = @now WHERE app_id = @appId AND id = @id",
            new { appId, id, active = CampaignStates.Active, now }, tx);
        await CampaignService.RecordAsync(conn, tx, appId, id, state, CampaignStates.Active, actor, d.Trigger is null ? "recurrence on" : $"listening for {d.Trigger.Type}", now);
        await tx.CommitAsync(ct);
        if (d.Trigger is { SegmentId: { } used }) await segments.MarkUsedAsync(appId, used, ct);
        return (await campaigns.GetAsync(appId, id, ct))!;
    }

    public async Task<AutomationView> ViewAsync(long appId, long id, int limit, CancellationToken ct)
    {
        var campaign = await campaigns.GetAsync(appId, id, ct, withHistory: false) ?? throw ProblemException.NotFound($"Campaign {id}");
        await using var conn = await db.OpenAsync(ct);
        var triggers = (await conn.QueryAsync<(string State, long N)>(
            "SELECT state, count(*) FROM pending_triggers WHERE app_id = @appId AND campaign_id = @id GROUP BY state", new { appId, id }))
            .ToDictionary(r => r.State, r => (int)r.N, StringComparer.Ordinal);
        var runs = (await conn.QueryAsync<RunRow>(
            """
            SELECT r.run_key AS RunKey, r.run_campaign_id AS CampaignId, c.state AS State, r.created_at AS CreatedAt,
                   (SELECT count(*) FROM deliveries d WHERE d.app_id = r.app_id AND d.campaign_id = r.run_campaign_id AND d.sent_at IS NOT NULL) AS Sent
            FROM campaign_runs r JOIN campaigns c ON c.app_id = r.app_id AND c.id = r.run_campaign_id
            WHERE r.app_id = @appId AND r.campaign_id = @id ORDER BY r.created_at DESC, r.run_campaign_id DESC LIMIT @limit
            """, new { appId, id, limit })).Select(r => new RunView(r.RunKey, r.CampaignId, r.State, r.CreatedAt, (int)r.Sent)).ToList();
        var sent = await conn.ExecuteScalarAsync<long>(
            """
            SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.app_id = d.app_id AND r.run_campaign_id = d.campaign_id
            WHERE r.app_id = @appId AND r.campaign_id = @id AND d.sent_at IS NOT NULL
            """, new { appId, id });
        return new AutomationView(id, campaign.State, triggers, (int)sent, runs);
    }

    private sealed class RunRow
    {
        public string RunKey { get; init; } = "";
        public long CampaignId { get; init; }
        public string State { get; init; } = "";
        public long CreatedAt { get; init; }
        public long Sent { get; init; }
    }

    /// <summary>
    /// Creates the run campaign (a draft: trigger and recurrence removed, the given audience and
    /// schedule) and records it under <paramref name="runKey"/> — or, when the key is taken (another
    /// pass or node made this run), returns null and the caller rolls back.
    /// </summary>
    internal static async Task<long?> CreateRunAsync(DbConnection conn, DbTransaction tx, long appId, CampaignView parent, string? runKey,
        AudienceDefinition audience, ScheduleDefinition schedule, long now)
    {
        var definition = parent.Definition with { Trigger = null, Recurrence = null, Audience = audience, Schedule = schedule };
        var runId = await conn.ExecuteScalarAsync<long>(
            """
            INSERT INTO campaigns (app_id, name, channel, state, definition, created_at, updated_at)
            VALUES (@appId, @name, @channel, @state, @json, @now, @now) RETURNING id
            """, new { appId, name = parent.Name, channel = parent.Channel, state = CampaignStates.Draft, json = JsonSerializer.Serialize(definition, Json), now }, tx);
        var key = runKey ?? $"trigger-{runId}";
        var claimed = await conn.ExecuteAsync(
            "INSERT INTO campaign_runs (app_id, campaign_id, run_key, run_campaign_id, created_at) VALUES (@appId, @parent, @key, @runId, @now) ON CONFLICT DO NOTHING",
            new { appId, parent = parent.Id, key, runId, now }, tx);
        if (claimed == 0) return null;
        await conn.ExecuteAsync("UPDATE campaigns SET name = @name WHERE app_id = @appId AND id = @runId",
            new { appId, runId, name = Name(parent.Name, key) }, tx);
        await CampaignService.RecordAsync(conn, tx, appId, runId, null, CampaignStates.Draft, Actor, $"run {key} of campaign {parent.Id}", now);
        return runId;
    }

    private static string Name(string parent, string key)
    {
        var suffix = $" · {key}";
        return parent.Length + suffix.Length <= Apps.AppService.MaxNameLength ? parent + suffix : parent[..(Apps.AppService.MaxNameLength - suffix.Length)] + suffix;
    }

    /// <summary>Plans a run that is still a draft (idempotent); a run with nothing to send is finished at once.</summary>
    internal async Task<PlanSummary?> PlanRunAsync(long appId, long runId, CancellationToken ct)
    {
        PlanSummary plan;
        try { plan = await planner.PlanAsync(appId, runId, Actor, ct, approved: true); } // the automation was approved when activated
        catch (ProblemException p) when (p.Status == 409) { return null; } // planned already (another pass or node)
        if (plan.Queued > 0) return plan;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (await conn.ExecuteAsync("UPDATE campaigns SET state = 'sent', updated_at = @now WHERE app_id = @appId AND id = @runId AND state = 'sending'",
                new { appId, runId, now }, tx) == 1)
            await CampaignService.RecordAsync(conn, tx, appId, runId, CampaignStates.Sending, CampaignStates.Sent, Actor, "nothing to send", now);
        await tx.CommitAsync(ct);
        return plan;
    }
}
