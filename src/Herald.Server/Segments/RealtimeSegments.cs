using System.Threading.Channels;
using Dapper;
using Herald.Domain.Analytics;
using Herald.Server.Ingest;
using Herald.Server.Storage;

namespace Herald.Server.Segments;

/// <summary>
/// In-process feed of real-time membership changes. Each subscriber gets its own bounded channel;
/// a subscriber that falls behind loses the oldest changes, and catches up durably from
/// <c>segment_changes</c> (<c>GET /api/v1/segments/{id}/changes?after=</c>).
/// </summary>
public sealed class SegmentChangeFeed
{
    private readonly Lock _gate = new();
    private readonly List<Channel<SegmentChange>> _subscribers = [];

    public ChannelReader<SegmentChange> Subscribe(CancellationToken until)
    {
        var ch = Channel.CreateBounded<SegmentChange>(new BoundedChannelOptions(100_000) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (_gate) _subscribers.Add(ch);
        until.Register(() =>
        {
            lock (_gate) _subscribers.Remove(ch);
            ch.Writer.TryComplete();
        });
        return ch.Reader;
    }

    public void Publish(IEnumerable<SegmentChange> changes)
    {
        Channel<SegmentChange>[] subs;
        lock (_gate) subs = [.. _subscribers];
        foreach (var c in changes)
            foreach (var s in subs) s.Writer.TryWrite(c);
    }
}

/// <summary>
/// After each ingest commit (and after the rollups took the events): every real-time segment of the
/// apps involved is re-evaluated, and for the devices those events touched, the difference with the
/// stored membership is written as entered / left rows and published. Devices not touched keep their
/// stored membership until an event of theirs arrives (a "within the last N days" clause that lapses
/// with time alone shows up in reads of the segment, not as a "left" change).
/// </summary>
public sealed partial class RealtimeSegments(Db db, SegmentService segments, SegmentEvaluator evaluator, ProfileSnapshots snapshots,
    SegmentChangeFeed feed, TimeProvider clock, ILogger<RealtimeSegments> logger) : IIngestObserver
{
    public async Task OnCommittedAsync(IReadOnlyList<StoredEvent> events)
    {
        foreach (var app in events.GroupBy(e => e.AppId))
        {
            var touched = RoaringBitmap.FromValues(app.Where(e => e.DeviceOrdinal is not null).Select(e => (uint)e.DeviceOrdinal!.Value).ToArray());
            if (touched.IsEmpty) continue;
            List<(long Id, Rule Rule)> list;
            await using (var conn = await db.OpenAsync())
                list = await segments.RealtimeAsync(app.Key, conn);
            if (list.Count == 0) continue;
            // A device registered after the snapshot was taken must not be judged by its absence.
            var snapshot = await snapshots.GetAsync(app.Key, CancellationToken.None);
            if (touched.Max > snapshot.MaxOrdinal) snapshots.Invalidate(app.Key);
            foreach (var (id, rule) in list)
            {
                try { await UpdateAsync(app.Key, id, rule, touched); }
                catch (Exception e) { LogFailed(logger, e, app.Key, id); }
            }
        }
    }

    private async Task UpdateAsync(long appId, long segmentId, Rule rule, RoaringBitmap touched)
    {
        var current = await evaluator.EvaluateAsync(appId, rule, segments.Loader(appId), CancellationToken.None);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var changes = new List<SegmentChange>();
        await using (var conn = await db.OpenAsync())
        {
            await using var tx = await conn.BeginTransactionAsync();
            var blob = await conn.ExecuteScalarAsync<byte[]?>(
                $"SELECT members FROM segments WHERE app_id = @appId AND id = @segmentId{(db.IsPostgres ? " FOR UPDATE" : "")}", new { appId, segmentId }, tx);
            var stored = blob is null ? new RoaringBitmap() : RoaringBitmap.Deserialize(blob);
            var nowIn = RoaringBitmap.And(current, touched);
            var wasIn = RoaringBitmap.And(stored, touched);
            var entered = RoaringBitmap.AndNot(nowIn, wasIn);
            var left = RoaringBitmap.AndNot(wasIn, nowIn);
            if (entered.IsEmpty && left.IsEmpty)
            {
                await tx.CommitAsync();
                return;
            }
            stored.AndNotWith(touched);
            stored.OrWith(nowIn);
            await conn.ExecuteAsync("UPDATE segments SET members = @members WHERE app_id = @appId AND id = @segmentId",
                new { appId, segmentId, members = stored.Serialize() }, tx);
            foreach (var (set, isEntry) in new[] { (entered, true), (left, false) })
                foreach (var device in set)
                {
                    var changeId = await conn.ExecuteScalarAsync<long>(
                        "INSERT INTO segment_changes (app_id, segment_id, device_ordinal, entered, at) VALUES (@appId, @segmentId, @device, @isEntry, @now) RETURNING id",
                        new { appId, segmentId, device = (int)device, isEntry, now }, tx);
                    changes.Add(new SegmentChange(changeId, appId, segmentId, device, isEntry, now));
                }
            await tx.CommitAsync();
        }
        feed.Publish(changes);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Real-time update of segment {SegmentId} (app {AppId}) failed")]
    private static partial void LogFailed(ILogger logger, Exception e, long appId, long segmentId);
}

/// <summary>Marks unused segments inactive once an hour (R-SEG-4); the clock is the injected TimeProvider.</summary>
public sealed partial class SegmentSweeper(SegmentService segments, TimeProvider clock, ILogger<SegmentSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await segments.SweepInactiveAsync(stoppingToken); }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested) { LogFailed(logger, e); }
            try { await Task.Delay(TimeSpan.FromHours(1), clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Segment inactivity sweep failed; retrying in an hour")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
