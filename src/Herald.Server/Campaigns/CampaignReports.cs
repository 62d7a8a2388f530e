using Dapper;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Campaigns;

public sealed record PlatformCounts(string Platform, int Targeted, int Sent, int Failed);

public sealed record CampaignReport(
    long CampaignId, string State, int Targeted, int Queued, int Sending, int Sent, int Failed, int Skipped, int Cancelled,
    IReadOnlyDictionary<string, int> FailedByReason, IReadOnlyDictionary<string, int> SkippedByReason, IReadOnlyList<PlatformCounts> ByPlatform)
{
    /// <summary>Sent and confirmed by the device: a delivery receipt, an open or a dismissal.</summary>
    public int Delivered { get; init; }
    public int Opened { get; init; }
    public int Dismissed { get; init; }
    public int Converted { get; init; }
    public double Revenue { get; init; }
    public int Recalled { get; init; }
    /// <summary>Recipients held back for an A/B test's winner.</summary>
    public int Held { get; init; }
    /// <summary>The A/B test: each variant's numbers, the p-value and the decision (R-MSG-7).</summary>
    public AbTestReport? AbTest { get; init; }
    /// <summary>Fallback SMS / email counts (R-MSG-8); null when the campaign has no fallback.</summary>
    public FallbackReport? Fallback { get; init; }
    /// <summary>Opened ÷ sent.</summary>
    public double ClickThroughRate => Sent == 0 ? 0 : Math.Round((double)Opened / Sent, 4);
}

/// <summary>The live campaign report (R-AN-1), counted from the ledger while the send runs; and stop (R-MSG-9).</summary>
public sealed class CampaignReports(Db db, CampaignService campaigns, CampaignStops stops, TimeProvider clock)
{
    private sealed class Row
    {
        public string State { get; init; } = "";
        public string? Platform { get; init; }
        public string? Reason { get; init; }
        public long N { get; init; }
    }

    public async Task<CampaignReport> ReportAsync(long appId, long campaignId, CancellationToken ct)
    {
        var campaign = await campaigns.GetAsync(appId, campaignId, ct) ?? throw ProblemException.NotFound($"Campaign {campaignId}");
        await using var conn = await db.OpenAsync(ct);
        var rows = (await conn.QueryAsync<Row>(
            """
            SELECT state AS State, platform AS Platform, CASE WHEN state IN ('failed', 'skipped') THEN reason END AS Reason, count(*) AS N
            FROM deliveries WHERE app_id = @appId AND campaign_id = @campaignId
            GROUP BY state, platform, CASE WHEN state IN ('failed', 'skipped') THEN reason END
            """, new { appId, campaignId })).ToList();
        var outcomes = await conn.QuerySingleAsync<Outcomes>(
            "SELECT count(opened_at) AS Opened, count(dismissed_at) AS Dismissed, count(converted_at) AS Converted, COALESCE(sum(revenue), 0) AS Revenue FROM deliveries WHERE app_id = @appId AND campaign_id = @campaignId",
            new { appId, campaignId });
        int Count(params string[] states) => (int)rows.Where(r => states.Contains(r.State)).Sum(r => r.N);
        // In flight: on SQLite the rows of leased batches (still "queued" until their outcomes are
        // recorded); on PostgreSQL a claim is a lock nobody else can see, so its rows count as queued.
        var inFlight = db.IsPostgres ? 0 : await conn.ExecuteScalarAsync<int>(
            "SELECT COALESCE(sum(json_array_length(recipients)), 0) FROM delivery_batches WHERE app_id = @appId AND campaign_id = @campaignId AND lease_until IS NOT NULL",
            new { appId, campaignId });
        IReadOnlyDictionary<string, int> Reasons(string state) => rows.Where(r => r.State == state)
            .GroupBy(r => r.Reason ?? "unknown").ToDictionary(g => g.Key, g => (int)g.Sum(r => r.N));
        var sentStates = new[] { DeliveryStates.Sent, DeliveryStates.Delivered, DeliveryStates.Opened, DeliveryStates.Dismissed, DeliveryStates.Recalled };
        var platforms = rows.Where(r => r.Platform is not null).GroupBy(r => r.Platform!)
            .Select(g => new PlatformCounts(g.Key, (int)g.Where(r => r.State != DeliveryStates.Skipped).Sum(r => r.N),
                (int)g.Where(r => sentStates.Contains(r.State)).Sum(r => r.N), (int)g.Where(r => r.State == DeliveryStates.Failed).Sum(r => r.N)))
            .OrderBy(p => p.Platform, StringComparer.Ordinal).ToList();
        return new CampaignReport(campaignId, campaign.State,
            Targeted: (int)rows.Where(r => r.State != DeliveryStates.Skipped).Sum(r => r.N),
            Queued: Math.Max(0, Count(DeliveryStates.Queued) - inFlight), Sending: Count(DeliveryStates.Sending) + inFlight, Sent: Count(sentStates),
            Failed: Count(DeliveryStates.Failed), Skipped: Count(DeliveryStates.Skipped), Cancelled: Count(DeliveryStates.Cancelled),
            Reasons(DeliveryStates.Failed), Reasons(DeliveryStates.Skipped), platforms)
        {
            Delivered = Count(DeliveryStates.Delivered, DeliveryStates.Opened, DeliveryStates.Dismissed),
            Opened = (int)outcomes.Opened, Dismissed = (int)outcomes.Dismissed, Converted = (int)outcomes.Converted,
            Revenue = outcomes.Revenue, Recalled = Count(DeliveryStates.Recalled), Held = Count(DeliveryStates.Held),
            AbTest = await AbTestReports.ReadAsync(conn, appId, campaign),
            Fallback = await Fallbacks.ReportAsync(conn, appId, campaignId, campaign.Definition),
        };
    }

    private sealed class Outcomes
    {
        public long Opened { get; init; }
        public long Dismissed { get; init; }
        public long Converted { get; init; }
        public double Revenue { get; init; }
    }

    /// <summary>
    /// Stops a send: queued messages are cancelled, and the call returns only once nothing of the
    /// campaign is in flight any more — after it returns, no further provider request is made.
    /// </summary>
    public async Task<CampaignReport> StopAsync(long appId, long campaignId, string actor, string? reason, TimeSpan waitAtMost, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using (var conn = await db.OpenAsync(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            var state = await conn.ExecuteScalarAsync<string?>("SELECT state FROM campaigns WHERE app_id = @appId AND id = @campaignId", new { appId, campaignId }, tx)
                ?? throw ProblemException.NotFound($"Campaign {campaignId}");
            if (state is not (CampaignStates.Sending or CampaignStates.Scheduled or CampaignStates.Active))
                throw new ProblemException(409, "Not sending", $"Campaign {campaignId} is {state}; only a scheduled, sending or active campaign can be stopped.", "state");
            stops.Stop(appId, campaignId);
            // The queue first: on PostgreSQL this waits for chunks that hold batches of the campaign
            // (their sends see the stop, finish and are recorded), and a dispatcher never waits for
            // the campaign's row while holding batches, so the two cannot deadlock. A batch leased on
            // SQLite stays until its chunk records it.
            await conn.ExecuteAsync(
                $"DELETE FROM delivery_batches WHERE app_id = @appId AND campaign_id = @campaignId{(db.IsPostgres ? "" : " AND lease_until IS NULL")}",
                new { appId, campaignId }, tx);
            await conn.ExecuteAsync("UPDATE deliveries SET state = 'cancelled', reason = 'campaign stopped', updated_at = @now WHERE app_id = @appId AND campaign_id = @campaignId AND state IN ('queued', 'held')",
                new { appId, campaignId, now }, tx);
            await conn.ExecuteAsync("UPDATE campaigns SET state = 'stopped', updated_at = @now WHERE app_id = @appId AND id = @campaignId", new { appId, campaignId, now }, tx);
            await CampaignService.RecordAsync(conn, tx, appId, campaignId, state, CampaignStates.Stopped, actor, reason ?? "stopped", now);
            await tx.CommitAsync(ct);
        }
        // Requests already handed to a provider finish; wait for them so the answer is final.
        // Real elapsed time, not the business clock: this waits for real requests to come back.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (waited.Elapsed < waitAtMost)
        {
            await using var conn = await db.OpenAsync(ct);
            if (!await DeliveryBatches.AnyAsync(conn, null, appId, campaignId)) break;
            await Task.Delay(TimeSpan.FromMilliseconds(20), ct);
        }
        return await ReportAsync(appId, campaignId, ct);
    }
}
