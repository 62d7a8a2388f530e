using System.Collections.Concurrent;
using Herald.Domain.Alerts;
using Herald.Gateways;
using Dapper;
using Herald.Server.Campaigns;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Alerts;

/// <summary>
/// Counts the dispatcher's committed outcomes over a sliding window — per (app, campaign): finished
/// messages and those that failed; per (app, provider): answers and the provider's own errors (retry
/// later: 5xx, 429, timeouts) — and raises an incident when a rate crosses its threshold. The
/// counters live in the database, a row per tenth of the window: every node adds what it sent and
/// judges the sum of all nodes, so a campaign split across nodes reaches its minimum and its rate
/// as one. The incident itself is shared too (<see cref="AlertService.RaiseAsync"/> opens one).
/// Configuration errors are not counted here: <see cref="Delivery.DeliveryFeedback"/> reports them on
/// every path (campaigns, transactional and test sends) as credential incidents.
/// </summary>
public sealed class AlertMonitor(Db db, AlertService alerts, IOptions<AlertOptions> options, TimeProvider clock) : IDeliveryObserver
{
    private const int Buckets = 10, TopReasons = 3;
    private readonly AlertOptions _o = options.Value;
    /// <summary>When this node last wrote the incident for a key (ticks), so a lasting condition costs one write per step, not per chunk.</summary>
    private readonly ConcurrentDictionary<(long AppId, string Key), long> _raisedAt = new();
    private long Step => Math.Max(1, _o.Window.Ticks / Buckets);

    public async Task OnRecordedAsync(IReadOnlyList<DeliveryRecord> records, CancellationToken ct)
    {
        if (!_o.Enabled) return;
        var now = clock.GetUtcNow();
        var counts = new List<Count>();
        foreach (var g in records.GroupBy(r => (r.AppId, r.CampaignId)))
        {
            var finished = g.Where(r => r.State is DeliveryStates.Sent or DeliveryStates.Failed).ToList();
            if (finished.Count == 0) continue;
            counts.Add(new(g.Key.AppId, $"campaign:{g.Key.CampaignId}", AlertKinds.CampaignFailureRate, g.Key.CampaignId, null, finished.Count,
                [.. finished.Where(r => r.State == DeliveryStates.Failed).Select(r => Reason(r.Reason))], _o.CampaignMinimum));
        }
        foreach (var g in records.Where(r => r.Kind is { } k && k != OutcomeKind.ConfigError && r.Provider.Length > 0).GroupBy(r => (r.AppId, r.Provider)))
            counts.Add(new(g.Key.AppId, $"provider:{g.Key.Provider}", AlertKinds.ProviderErrorRate, null, g.Key.Provider, g.Count(),
                [.. g.Where(r => r.Kind == OutcomeKind.RetryLater).Select(r => Reason(r.Reason))], _o.ProviderMinimum));
        if (counts.Count == 0) return;
        var bucket = now.UtcTicks / Step;
        await using (var conn = await db.OpenAsync(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            await conn.ExecuteAsync(
                """
                INSERT INTO alert_counts (app_id, key, bucket, total, failed) VALUES (@AppId, @Key, @bucket, @Total, @Failed)
                ON CONFLICT (app_id, key, bucket) DO UPDATE SET total = alert_counts.total + excluded.total, failed = alert_counts.failed + excluded.failed
                """, counts.Select(c => new { c.AppId, c.Key, bucket, c.Total, Failed = c.Failures.Count }), tx);
            var reasons = counts.SelectMany(c => c.Failures.GroupBy(f => f, StringComparer.Ordinal).Take(RateWindow.MaxReasonsPerBucket)
                .Select(r => new { c.AppId, c.Key, bucket, reason = r.Key, n = r.Count() })).ToList();
            if (reasons.Count > 0)
                await conn.ExecuteAsync(
                    """
                    INSERT INTO alert_reasons (app_id, key, bucket, reason, n) VALUES (@AppId, @Key, @bucket, @reason, @n)
                    ON CONFLICT (app_id, key, bucket, reason) DO UPDATE SET n = alert_reasons.n + excluded.n
                    """, reasons, tx);
            await tx.CommitAsync(ct);
        }
        foreach (var c in counts.Where(c => c.Failures.Count > 0))
        {
            var thresholds = await alerts.ThresholdsAsync(c.AppId, ct);
            var threshold = c.Kind == AlertKinds.CampaignFailureRate ? thresholds.CampaignFailureRate : thresholds.ProviderErrorRate;
            var snapshot = await ReadAsync(c.AppId, c.Key, bucket, ct);
            if (!snapshot.Crosses(threshold, c.Minimum)) continue;
            var last = _raisedAt.GetValueOrDefault((c.AppId, c.Key), long.MinValue);
            if (last != long.MinValue && now.UtcTicks - last < Step) continue;
            _raisedAt[(c.AppId, c.Key)] = now.UtcTicks;
            await alerts.RaiseAsync(c.AppId, c.Kind, c.Key, c.CampaignId, c.Provider, snapshot, threshold, ct);
        }
    }

    private sealed record Count(long AppId, string Key, string Kind, long? CampaignId, string? Provider, int Total, List<string> Failures, int Minimum);

    /// <summary>What every node counted for the key over the window ending in <paramref name="bucket"/>.</summary>
    private async Task<RateSnapshot> ReadAsync(long appId, string key, long bucket, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        // One snapshot for both reads: other nodes' chunks commit meanwhile, and the reasons must add
        // up to the failures they explain.
        await using var tx = db.IsPostgres
            ? await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct)
            : ((Microsoft.Data.Sqlite.SqliteConnection)conn).BeginTransaction(deferred: true);
        var args = new { appId, key, first = bucket - Buckets + 1, bucket };
        var (total, failed) = await conn.QuerySingleAsync<(long, long)>(
            "SELECT COALESCE(sum(total), 0), COALESCE(sum(failed), 0) FROM alert_counts WHERE app_id = @appId AND key = @key AND bucket BETWEEN @first AND @bucket", args, tx);
        var top = await conn.QueryAsync<(string Reason, long N)>(
            $"""
            SELECT reason, sum(n) FROM alert_reasons WHERE app_id = @appId AND key = @key AND bucket BETWEEN @first AND @bucket
            GROUP BY reason ORDER BY sum(n) DESC, reason LIMIT {TopReasons}
            """, args, tx);
        await tx.CommitAsync(ct);
        return new RateSnapshot(failed, total, [.. top.Select(r => new ReasonCount(r.Reason, r.N))]);
    }

    /// <summary>Deletes counters that left the window (all apps); called by the notifier's loop.</summary>
    public async Task ForgetAsync(CancellationToken ct)
    {
        var before = clock.GetUtcNow().UtcTicks / Step - Buckets;
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync("DELETE FROM alert_counts WHERE bucket < @before", new { before });
        await conn.ExecuteAsync("DELETE FROM alert_reasons WHERE bucket < @before", new { before });
        foreach (var (key, at) in _raisedAt)
            if (at / Step < before) _raisedAt.TryRemove(key, out _);
    }

    private static string Reason(string? reason) =>
        string.IsNullOrWhiteSpace(reason) ? "unknown" : reason.Length <= RateWindow.MaxReasonLength ? reason : reason[..RateWindow.MaxReasonLength];
}
