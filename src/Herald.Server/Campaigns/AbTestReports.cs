using System.Data.Common;
using System.Text.Json;
using Dapper;
using Herald.Domain.Statistics;

namespace Herald.Server.Campaigns;

/// <summary>One variant's test cohort, live from the ledger.</summary>
public sealed record AbVariantReport(int Index, string Name, int Recipients, int Sent, int Opened, double OpenRate,
    int Converted, double ConversionRate, double Revenue, double RevenuePerRecipient);

/// <summary>The decision as it was taken (the numbers it saw), or why there was none.</summary>
public sealed record AbDecisionReport(long DecidedAt, int? Winner, string? WinnerName, double? PValue, double? Alpha, bool Significant,
    bool FallbackApplied, string? Test, string Reason, IReadOnlyList<double>? Values, IReadOnlyList<AbComparison>? Comparisons);

/// <summary>One variant against the control group: purchases within the window after the send, opened or not.</summary>
public sealed record AbLiftReport(int Index, string Name, int Sent, int Converted, double ConversionRate, double? Lift, double PValue);

/// <summary>
/// The control group (sent nothing): how many, how many bought within the window after the time they
/// would have been sent, and each variant's lift over that rate (0.25 = 25% more) with the p-value of
/// a two-proportion z-test.
/// </summary>
public sealed record AbControlReport(double Share, int Recipients, int Converted, double ConversionRate, IReadOnlyList<AbLiftReport> Variants);

/// <summary>
/// The A/B part of a campaign report: the set-up, each variant's numbers, how many recipients wait
/// for the winner or have been sent it, and the decision with its p-value once taken.
/// </summary>
public sealed record AbTestReport(string Metric, double TestShare, int DurationMinutes, double Alpha, string NoWinner, long DecideAt,
    IReadOnlyList<AbVariantReport> Variants, int Held, int Rollout, int RolloutSent, AbDecisionReport? Decision)
{
    /// <summary>Null when the test has no control group.</summary>
    public AbControlReport? Control { get; init; }
}

public static class AbTestReports
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private sealed class TestRow
    {
        public long DecideAt { get; init; }
        public long? DecidedAt { get; init; }
        public string? Decision { get; init; }
    }

    private sealed class VariantRow
    {
        public int Variant { get; init; }
        public long Rollout { get; init; }
        public long Recipients { get; init; }
        public long Held { get; init; }
        public long Sent { get; init; }
        public long Opened { get; init; }
        public long Converted { get; init; }
        public double Revenue { get; init; }
    }

    /// <summary>Null for a campaign without a test, or one not yet sent.</summary>
    public static async Task<AbTestReport?> ReadAsync(DbConnection conn, long appId, CampaignView campaign)
    {
        if (campaign.Definition.AbTest is not { } ab) return null;
        var test = await conn.QueryFirstOrDefaultAsync<TestRow>(
            "SELECT decide_at AS DecideAt, decided_at AS DecidedAt, decision AS Decision FROM campaign_ab_tests WHERE app_id = @appId AND campaign_id = @id",
            new { appId, id = campaign.Id });
        if (test is null) return null;
        var rows = (await conn.QueryAsync<VariantRow>(
            """
            SELECT variant AS Variant, ab_rollout AS Rollout, count(*) AS Recipients, count(CASE WHEN state = 'held' THEN 1 END) AS Held,
                   count(CASE WHEN state IN ('sent', 'delivered', 'opened', 'dismissed', 'recalled') THEN 1 END) AS Sent,
                   count(opened_at) AS Opened, count(converted_at) AS Converted, COALESCE(sum(revenue), 0) AS Revenue
            FROM deliveries WHERE app_id = @appId AND campaign_id = @id AND state <> 'skipped'
            GROUP BY variant, ab_rollout
            """, new { appId, id = campaign.Id })).ToList();
        var variants = Enumerable.Range(0, ab.Variants.Count).Select(i =>
        {
            var r = rows.FirstOrDefault(x => x.Variant == i && x.Rollout == 0) ?? new VariantRow { Variant = i };
            double Per(double v) => r.Sent == 0 ? 0 : Math.Round(v / r.Sent, 4);
            return new AbVariantReport(i, AbTests.VariantName(ab, i), (int)r.Recipients, (int)r.Sent, (int)r.Opened, Per(r.Opened),
                (int)r.Converted, Per(r.Converted), r.Revenue, Per(r.Revenue));
        }).ToList();
        var rollout = rows.Where(x => x.Rollout == 1).ToList();
        return new AbTestReport(ab.Metric, ab.TestShare, ab.DurationMinutes, ab.Alpha, ab.NoWinner, test.DecideAt, variants,
            (int)rows.Sum(x => x.Held), (int)rollout.Sum(x => x.Recipients), (int)rollout.Sum(x => x.Sent),
            Decision(ab, test)) { Control = ab.ControlShare > 0 ? await ControlAsync(conn, appId, campaign.Id, ab) : null };
    }

    private sealed class LiftRow
    {
        public int Variant { get; init; }
        public long N { get; init; }
        public long Converted { get; init; }
    }

    private static async Task<AbControlReport> ControlAsync(DbConnection conn, long appId, long campaignId, AbTestDefinition ab)
    {
        var rows = (await conn.QueryAsync<LiftRow>(
            """
            SELECT variant AS Variant, count(*) AS N, count(lift_converted_at) AS Converted FROM deliveries
            WHERE app_id = @appId AND campaign_id = @campaignId AND ab_rollout = 0 AND (variant = -2 OR (variant >= 0 AND sent_at IS NOT NULL))
            GROUP BY variant
            """, new { appId, campaignId })).ToDictionary(r => r.Variant);
        var c = rows.GetValueOrDefault(AbSplit.Control) ?? new LiftRow { Variant = AbSplit.Control };
        static double Rate(LiftRow r) => r.N == 0 ? 0 : Math.Round((double)r.Converted / r.N, 4);
        var controlRate = c.N == 0 ? 0 : (double)c.Converted / c.N;
        var lifts = Enumerable.Range(0, ab.Variants.Count).Select(i =>
        {
            var v = rows.GetValueOrDefault(i) ?? new LiftRow { Variant = i };
            var rate = v.N == 0 ? 0 : (double)v.Converted / v.N;
            double? lift = controlRate > 0 && v.N > 0 ? Math.Round(rate / controlRate - 1, 4) : null;
            return new AbLiftReport(i, AbTests.VariantName(ab, i), (int)v.N, (int)v.Converted, Rate(v), lift,
                Math.Round(SignificanceTests.TwoProportionZ(v.Converted, v.N, c.Converted, c.N).PValue, 6));
        }).ToList();
        return new AbControlReport(ab.ControlShare, (int)c.N, (int)c.Converted, Rate(c), lifts);
    }

    private static AbDecisionReport? Decision(AbTestDefinition ab, TestRow test)
    {
        if (test.DecidedAt is not { } at || test.Decision is null) return null;
        using var doc = JsonDocument.Parse(test.Decision);
        if (!doc.RootElement.TryGetProperty("winner", out _))
            return new AbDecisionReport(at, null, null, null, null, false, false, null, doc.RootElement.GetProperty("reason").GetString() ?? "", null, null);
        var v = JsonSerializer.Deserialize<AbVerdict>(test.Decision, Json)!;
        return new AbDecisionReport(at, v.Winner, AbTests.VariantName(ab, v.Winner), v.PValue, v.Alpha, v.Significant, v.FallbackApplied,
            v.Test, v.Reason, v.Values, v.Comparisons);
    }
}
