using System.Data.Common;
using System.Text.Json;
using Dapper;
using Herald.Domain.Statistics;
using Herald.Server.Ingest;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Campaigns;

/// <summary>
/// Picks A/B winners when their test time is up (R-MSG-7). Decisions are rows in
/// <c>campaign_ab_tests</c> with a due time, so they survive restarts; each is claimed, decided,
/// recorded and its held recipients released to the winner in one transaction (FOR UPDATE SKIP
/// LOCKED on PostgreSQL), so exactly one node decides and a crash midway leaves it to be decided again.
/// </summary>
public sealed partial class AbTestDecider(Db db, ObserverPump ingested, DispatchWorker dispatch, IOptions<DispatchOptions> options,
    TimeProvider clock, ILogger<AbTestDecider> logger) : BackgroundService
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await DecideNextAsync(stoppingToken)) { }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                // A database error is not "nothing due": log, and look again at the next poll.
                LogFailed(logger, e);
            }
            try { await Task.Delay(options.Value.Poll, clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    private sealed class Due
    {
        public long AppId { get; init; }
        public long CampaignId { get; init; }
    }

    private sealed class CampaignRow
    {
        public string State { get; init; } = "";
        public string Definition { get; init; } = "{}";
    }

    private sealed class VariantRow
    {
        public int Variant { get; init; }
        public long Recipients { get; init; }
        public long Opened { get; init; }
        public long Converted { get; init; }
        public double RevenueSum { get; init; }
        public double RevenueSquares { get; init; }
    }

    /// <summary>Decides one due test, if any; true when it did (there may be more).</summary>
    public async Task<bool> DecideNextAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using (var peek = await db.OpenAsync(ct))
        {
            if (await peek.ExecuteScalarAsync<long?>("SELECT campaign_id FROM campaign_ab_tests WHERE decided_at IS NULL AND decide_at <= @now LIMIT 1", new { now }) is null)
                return false;
        }
        // Opens and conversions accepted before the test ended count: let attribution see them all.
        await ingested.CaughtUpAsync(ct);

        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var due = await conn.QueryFirstOrDefaultAsync<Due>(
            $"""
            SELECT app_id AS AppId, campaign_id AS CampaignId FROM campaign_ab_tests
            WHERE decided_at IS NULL AND decide_at <= @now ORDER BY decide_at LIMIT 1 {(db.IsPostgres ? "FOR UPDATE SKIP LOCKED" : "")}
            """, new { now }, tx);
        if (due is null) return false;
        var (appId, campaignId) = (due.AppId, due.CampaignId);
        var campaign = await conn.QuerySingleAsync<CampaignRow>(
            "SELECT state AS State, definition AS Definition FROM campaigns WHERE app_id = @appId AND id = @campaignId", new { appId, campaignId }, tx);
        var d = JsonSerializer.Deserialize<CampaignDefinition>(campaign.Definition, Json)!;

        // A scheduled campaign can still be edited after planning: one whose test was removed sends its base content to the held rows.
        if (campaign.State is CampaignStates.Stopped or CampaignStates.Recalled || d.AbTest is null)
        {
            var why = d.AbTest is null ? "the A/B test was removed from the campaign; the held recipients get the base content" : $"the campaign was {campaign.State} before the test ended";
            await conn.ExecuteAsync("UPDATE campaign_ab_tests SET decided_at = @now, decision = @decision WHERE app_id = @appId AND campaign_id = @campaignId",
                new { appId, campaignId, now, decision = JsonSerializer.Serialize(new { reason = $"Not decided: {why}." }, Json) }, tx);
            await conn.ExecuteAsync(
                "UPDATE deliveries SET state = 'queued', variant = 0, ab_rollout = 1, due_at = CASE WHEN due_at < @now THEN @now ELSE due_at END, updated_at = @now WHERE app_id = @appId AND campaign_id = @campaignId AND state = 'held'",
                new { appId, campaignId, now }, tx);
            await DeliveryBatches.ReleaseHeldAsync(conn, tx, appId, campaignId, now);
            await tx.CommitAsync(ct);
            dispatch.Wake();
            return true;
        }
        var ab = d.AbTest;

        var verdict = AbDecision.Decide(await SamplesAsync(conn, tx, appId, campaignId, ab), AbTests.ParseMetric(ab.Metric), ab.Alpha, AbTests.ParseFallback(ab.NoWinner));
        var released = await conn.ExecuteAsync(
            """
            UPDATE deliveries SET state = 'queued', variant = @winner, ab_rollout = 1, due_at = CASE WHEN due_at < @now THEN @now ELSE due_at END, updated_at = @now
            WHERE app_id = @appId AND campaign_id = @campaignId AND state = 'held'
            """, new { appId, campaignId, winner = verdict.Winner, now }, tx);
        await DeliveryBatches.ReleaseHeldAsync(conn, tx, appId, campaignId, now);
        await conn.ExecuteAsync(
            "UPDATE campaign_ab_tests SET decided_at = @now, winner = @winner, p_value = @p, decision = @decision WHERE app_id = @appId AND campaign_id = @campaignId",
            new { appId, campaignId, now, winner = verdict.Winner, p = verdict.PValue, decision = JsonSerializer.Serialize(verdict, Json) }, tx);
        await CampaignService.RecordAsync(conn, tx, appId, campaignId, campaign.State, campaign.State, "ab-test",
            $"A/B test decided: {verdict.Reason} {released} held recipients get {AbTests.VariantName(ab, verdict.Winner)}.", now);
        await tx.CommitAsync(ct);
        LogDecided(logger, appId, campaignId, AbTests.VariantName(ab, verdict.Winner), verdict.PValue, verdict.FallbackApplied, released);
        dispatch.Wake();
        return true;
    }

    /// <summary>Each variant's test cohort as it stands: recipients reached, opens, conversions, revenue.</summary>
    internal static async Task<List<VariantSample>> SamplesAsync(DbConnection conn, DbTransaction? tx, long appId, long campaignId, AbTestDefinition ab)
    {
        var rows = (await conn.QueryAsync<VariantRow>(
            """
            SELECT variant AS Variant, count(*) AS Recipients, count(opened_at) AS Opened, count(converted_at) AS Converted,
                   COALESCE(sum(revenue), 0) AS RevenueSum, COALESCE(sum(revenue * revenue), 0) AS RevenueSquares
            FROM deliveries
            WHERE app_id = @appId AND campaign_id = @campaignId AND variant >= 0 AND ab_rollout = 0
              AND state IN ('sent', 'delivered', 'opened', 'dismissed', 'recalled')
            GROUP BY variant
            """, new { appId, campaignId }, tx)).ToDictionary(r => r.Variant);
        var successes = ab.Metric == AbTests.ConversionRate ? (Func<VariantRow, long>)(r => r.Converted) : r => r.Opened;
        return Enumerable.Range(0, ab.Variants.Count).Select(i => rows.TryGetValue(i, out var r)
            ? new VariantSample(AbTests.VariantName(ab, i), r.Recipients, successes(r), r.RevenueSum, r.RevenueSquares)
            : new VariantSample(AbTests.VariantName(ab, i), 0, 0)).ToList();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A/B decisions failed; retrying at the next poll")]
    private static partial void LogFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Information, Message = "A/B test of campaign {AppId}/{CampaignId}: {Winner} sent (p = {PValue}, fallback {Fallback}) to {Released} held recipients")]
    private static partial void LogDecided(ILogger logger, long appId, long campaignId, string winner, double pValue, bool fallback, int released);
}
