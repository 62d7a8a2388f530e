using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Dapper;
using Herald.Gateways;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Delivery;

/// <summary>Bound from <c>Herald:Uninstalls</c>.</summary>
public sealed class UninstallOptions
{
    public const string Section = "Herald:Uninstalls";

    /// <summary>Run the scheduled sweep on this node (off on nodes that should not send).</summary>
    public bool SweepEnabled { get; set; } = true;

    /// <summary>Time between sweeps. A day: uninstalls are counted per day, and providers frown on frequent silent pushes.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Devices not seen (no SDK call) for this many days get a silent check push; each at most once per this period.</summary>
    [Range(1, 365)] public int NotSeenForDays { get; set; } = 30;

    /// <summary>Devices claimed per round of a sweep.</summary>
    [Range(1, 100_000)] public int BatchSize { get; set; } = 1000;

    /// <summary>Silent pushes in flight per node during a sweep; low, so campaigns keep the provider connections.</summary>
    [Range(1, 1024)] public int Concurrency { get; set; } = 16;
}

/// <summary>What one sweep did: devices checked, found gone, merely unreachable, and left out as stale.</summary>
public sealed record SweepResult(int Checked, int Uninstalled, int Reachable, int Unreachable, int Stale);

/// <summary>
/// Silent-push uninstall detection (R-DLV-2). Devices not seen for <see cref="UninstallOptions.NotSeenForDays"/>
/// get a silent check push (FCM data-only, APNs content-available background push — no notification
/// shows); the provider's answer goes through <see cref="DeliveryFeedback"/>, so a dead token marks the
/// device uninstalled while a timeout, a 429 or a 5xx (an offline phone, a slow provider) marks
/// nothing. Android tokens not refreshed for 270 days are stale: not pinged, counted. Web push is not
/// swept — browsers show every push, so there is no silent one; its dead subscriptions surface on the
/// next real send. Devices are claimed by stamping <c>silent_checked_at</c> (SKIP LOCKED on PostgreSQL),
/// so nodes sweeping together never ping a device twice.
/// </summary>
public sealed partial class UninstallSweep(Db db, GatewayRegistry gateways, DeliveryFeedback feedback, IOptions<UninstallOptions> options,
    TimeProvider clock, ILogger<UninstallSweep> logger) : BackgroundService
{
    public const string Command = "ping";
    private readonly UninstallOptions _o = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_o.SweepEnabled) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var r = await SweepAsync(null, stoppingToken);
                if (r.Checked > 0 || r.Stale > 0) LogSwept(logger, r.Checked, r.Uninstalled, r.Unreachable, r.Stale);
                await Task.Delay(_o.SweepInterval, clock, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                LogFailed(logger, e);
                try { await Task.Delay(TimeSpan.FromMinutes(1), clock, stoppingToken); } catch (OperationCanceledException) { return; }
            }
        }
    }

    private sealed class Claimed
    {
        public long AppId { get; init; }
        public int Ordinal { get; init; }
        public string Platform { get; init; } = "";
        public string PushToken { get; init; } = "";
    }

    /// <summary>One sweep over every app, or over one (<paramref name="appId"/>), until no due device is left.</summary>
    public async Task<SweepResult> SweepAsync(long? appId, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var notSeenBefore = (now - TimeSpan.FromDays(_o.NotSeenForDays)).ToUnixTimeMilliseconds();
        var staleBefore = feedback.StaleBefore;
        int checkedCount = 0, reachable = 0, unreachable = 0;
        var uninstalled = 0;
        while (!ct.IsCancellationRequested)
        {
            var batch = await ClaimAsync(appId, now.ToUnixTimeMilliseconds(), notSeenBefore, staleBefore, ct);
            if (batch.Count == 0) break;
            var outcomes = new ConcurrentBag<(Claimed Device, SendOutcome? Outcome, bool Gone)>();
            var looked = new ConcurrentDictionary<long, ChunkGateways>(); // each app's gateways once per batch
            await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = _o.Concurrency, CancellationToken = ct }, async (d, token) =>
            {
                var channel = Channels.ForPlatform(d.Platform)!;
                try
                {
                    var gateway = await looked.GetOrAdd(d.AppId, app => new ChunkGateways(gateways, app, ct)).PushAsync(channel);
                    var outcome = await gateway.SendAsync(new PushTarget(d.PushToken),
                        new PushMessage { MessageId = $"check-{d.Ordinal}-{now.ToUnixTimeMilliseconds()}", Command = Command }, token);
                    outcomes.Add((d, outcome, await feedback.ApplyPushAsync(d.AppId, d.Ordinal, channel, outcome, token)));
                }
                catch (ProblemException p) when (p.Status == StatusCodes.Status409Conflict)
                {
                    outcomes.Add((d, null, false)); // the app has no credentials for the channel: nothing can be learnt
                }
            });
            checkedCount += batch.Count;
            uninstalled += outcomes.Count(o => o.Gone);
            reachable += outcomes.Count(o => o.Outcome?.Kind == OutcomeKind.Delivered);
            unreachable += outcomes.Count(o => !o.Gone && o.Outcome?.Kind != OutcomeKind.Delivered);
            if (batch.Count < _o.BatchSize) break;
        }
        await using var conn = await db.OpenAsync(ct);
        var stale = await conn.ExecuteScalarAsync<long>(
            $"""
            SELECT count(*) FROM devices d
            WHERE (@appId IS NULL OR d.app_id = @appId) AND d.uninstalled_at IS NULL AND d.push_token IS NOT NULL AND NOT {DeliveryFeedback.NotStaleSql}
            """, new { appId, staleBefore });
        return new SweepResult(checkedCount, uninstalled, reachable, unreachable, (int)stale);
    }

    private async Task<List<Claimed>> ClaimAsync(long? appId, long now, long notSeenBefore, long staleBefore, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var due = $"""
            (@appId IS NULL OR d.app_id = @appId) AND d.uninstalled_at IS NULL AND d.push_token IS NOT NULL AND d.push_enabled
            AND d.platform IN ('ios', 'android') AND d.last_seen_at < @notSeenBefore
            AND (d.silent_checked_at IS NULL OR d.silent_checked_at < @notSeenBefore) AND {DeliveryFeedback.NotStaleSql}
            """;
        var sql = db.IsPostgres
            ? $"""
              UPDATE devices t SET silent_checked_at = @now
              FROM (SELECT d.app_id, d.ordinal FROM devices d WHERE {due} ORDER BY d.last_seen_at LIMIT @n FOR UPDATE SKIP LOCKED) c
              WHERE t.app_id = c.app_id AND t.ordinal = c.ordinal
              RETURNING t.app_id AS AppId, t.ordinal AS Ordinal, t.platform AS Platform, t.push_token AS PushToken
              """
            : $"""
              UPDATE devices SET silent_checked_at = @now
              WHERE rowid IN (SELECT d.rowid FROM devices d WHERE {due} ORDER BY d.last_seen_at LIMIT @n)
              RETURNING app_id AS AppId, ordinal AS Ordinal, platform AS Platform, push_token AS PushToken
              """;
        return (await conn.QueryAsync<Claimed>(sql, new { appId, now, notSeenBefore, staleBefore, n = _o.BatchSize })).ToList();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Uninstall sweep: {Checked} checked, {Uninstalled} uninstalled, {Unreachable} unreachable, {Stale} stale Android tokens")]
    private static partial void LogSwept(ILogger logger, int @checked, int uninstalled, int unreachable, int stale);

    [LoggerMessage(Level = LogLevel.Error, Message = "Uninstall sweep failed; retrying in a minute")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
