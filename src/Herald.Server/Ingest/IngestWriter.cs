using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Ingest;

/// <summary>
/// Group commit: every ingest request (device registration, identify, alias, events) is queued here
/// and answered only after the transaction holding it has committed. One writer loop drains whatever
/// has queued while the previous commit ran and writes it all in one transaction, so durability costs
/// one commit per group rather than per request — the way to be both durable and fast.
/// </summary>
public sealed partial class IngestWriter(Db db, TimeProvider clock, IOptions<IngestOptions> options, ILogger<IngestWriter> logger,
    ObserverPump observers) : BackgroundService
{
    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(20_000)
    {
        SingleReader = false,
        FullMode = BoundedChannelFullMode.Wait,
    });

    public async Task<OpResult[]> SubmitAsync(long appId, IReadOnlyList<IngestOp> ops, long receivedAt, CancellationToken ct)
    {
        if (ops.Count == 0) return [];
        var pending = new Pending(appId, ops, receivedAt);
        try
        {
            await _queue.Writer.WriteAsync(pending, ct);
        }
        catch (ChannelClosedException)
        {
            throw new ProblemException(503, "Shutting down", "This node is shutting down and accepts no more data; retry on another node.");
        }
        // Not cancellable on purpose: once queued the write happens; the caller learns the outcome.
        return await pending.Done.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        stoppingToken.Register(() => _queue.Writer.TryComplete());
        // SQLite has one writer at a time anyway. PostgreSQL overlaps one group's commit (the WAL
        // flush) with the next group's COPY, which is where durable ingest spends its time.
        var writers = db.IsPostgres ? options.Value.PostgresWriters : 1;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(WriteLoopAsync, CancellationToken.None)));
    }

    private async Task WriteLoopAsync()
    {
        var max = options.Value.MaxEventsPerCommit;
        var group = new List<Pending>();
        // Drains until the channel is completed *and* empty: everything queued before shutdown is written.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            group.Clear();
            var size = 0;
            while (size < max && _queue.Reader.TryRead(out var p))
            {
                group.Add(p);
                size += p.Ops.Count;
            }
            if (group.Count == 0) continue;
            var started = clock.GetTimestamp();
            await WriteGroupAsync(group);
            LogGroup(logger, group.Count, size, clock.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    private async Task WriteGroupAsync(List<Pending> group)
    {
        try
        {
            var results = await WriteAsync(group);
            for (var i = 0; i < group.Count; i++) group[i].Done.TrySetResult(results[i]);
        }
        catch (Exception e) when (group.Count > 1)
        {
            // One request must not sink the others: retry each on its own.
            LogGroupRetry(logger, e, group.Count);
            foreach (var p in group) await WriteGroupAsync([p]);
        }
        catch (Exception e)
        {
            LogWriteFailed(logger, e);
            group[0].Done.TrySetException(e is ProblemException ? e
                : new ProblemException(503, "Storage unavailable", "The data could not be stored and was not accepted; retry later."));
        }
    }

    private async Task<OpResult[][]> WriteAsync(List<Pending> group)
    {
        var results = new OpResult[group.Count][];
        var inserted = new List<StoredEvent>();
        await using (var conn = await db.OpenAsync())
        {
            await using var tx = await conn.BeginTransactionAsync();
            // Apps in ascending order, so concurrent writers take the apps' ordinal-counter row locks
            // in one order and cannot deadlock on them.
            foreach (var app in group.Select((p, i) => (p, i)).GroupBy(x => x.p.AppId).OrderBy(g => g.Key))
            {
                var batch = new AppBatch(db, conn, tx, app.Key, clock.GetUtcNow().ToUnixTimeMilliseconds());
                await batch.PrefetchAsync(app.SelectMany(x => x.p.Ops));
                foreach (var (p, i) in app)
                {
                    var r = new OpResult[p.Ops.Count];
                    for (var k = 0; k < p.Ops.Count; k++)
                        r[k] = await batch.ApplyAsync(p.Ops[k], p.ReceivedAt);
                    results[i] = r;
                }
                var duplicates = await batch.FlushAsync(inserted);
                if (duplicates.Count > 0)
                    foreach (var (p, i) in app)
                        for (var k = 0; k < p.Ops.Count; k++)
                            if (duplicates.Contains(p.Ops[k]))
                                results[i][k] = results[i][k] with { Duplicate = true };
            }
            await tx.CommitAsync();
        }
        observers.Enqueue(inserted);
        return results;
    }

    private sealed record Pending(long AppId, IReadOnlyList<IngestOp> Ops, long ReceivedAt)
    {
        public TaskCompletionSource<OpResult[]> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group commit: {Requests} requests, {Ops} items in {Milliseconds:0.0} ms")]
    private static partial void LogGroup(ILogger logger, int requests, int ops, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group commit of {Count} requests failed; retrying them one by one")]
    private static partial void LogGroupRetry(ILogger logger, Exception e, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Ingest write failed; the request was answered 503 and nothing of it was stored")]
    private static partial void LogWriteFailed(ILogger logger, Exception e);
}

/// <summary>An event as stored, for whatever runs after commit (analytics rollups, triggers).</summary>
public sealed record StoredEvent(long AppId, string MessageId, string Name, int? DeviceOrdinal, int? UserOrdinal, long OccurredAt, double? Revenue,
    string? MessageRef = null)
{
    // MessageRef: the campaign message an SDK event refers to (its "message_id" attribute), if any.
    public static string? MessageRefOf(string propertiesJson)
    {
        if (!propertiesJson.Contains("\"message_id\"", StringComparison.Ordinal)) return null;
        using var doc = System.Text.Json.JsonDocument.Parse(propertiesJson);
        return doc.RootElement.TryGetProperty("message_id", out var m) && m.ValueKind == System.Text.Json.JsonValueKind.String ? m.GetString() : null;
    }
}

/// <summary>
/// Told about newly stored (never duplicate) events after their transaction has committed, through
/// the <see cref="ObserverPump"/> (so possibly several commits at once).
/// </summary>
public interface IIngestObserver
{
    Task OnCommittedAsync(IReadOnlyList<StoredEvent> events);
}
