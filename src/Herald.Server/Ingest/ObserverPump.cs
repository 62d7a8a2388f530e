using System.Threading.Channels;

namespace Herald.Server.Ingest;

/// <summary>
/// Runs the post-commit work (analytics rollups, real-time segments) off the request path: the
/// writer answers as soon as the events are durable and hands the stored events here. The pump
/// coalesces whatever accumulated into one call per observer, in registration order, so its cost is
/// paid per burst rather than per request. Readers that need their own writes reflected (analytics
/// and segment queries) await <see cref="CaughtUpAsync"/> first.
/// A crash between commit and pump loses only derived data; <c>herald analytics rebuild</c> restores it.
/// </summary>
public sealed partial class ObserverPump(IEnumerable<IIngestObserver> observers, TimeProvider clock, ILogger<ObserverPump> logger) : BackgroundService
{
    private const int MaxEventsPerRound = 200_000;
    // Under load (commits queue up while a round runs), a short wait lets more of them share the
    // next round of rollup merges. A lone commit is handled at once.
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(50);
    private readonly IIngestObserver[] _observers = observers.ToArray();
    private readonly Channel<IReadOnlyList<StoredEvent>> _queue = Channel.CreateUnbounded<IReadOnlyList<StoredEvent>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _lock = new();
    private readonly List<(long Target, TaskCompletionSource Done)> _waiters = [];
    private long _enqueued;
    private int _waiting; // commits queued and not yet taken
    private long _done;

    public void Enqueue(IReadOnlyList<StoredEvent> events)
    {
        if (events.Count == 0 || _observers.Length == 0) return;
        lock (_lock)
        {
            _enqueued++;
            _waiting++;
            _queue.Writer.TryWrite(events);
        }
    }

    /// <summary>Completes when everything enqueued before the call has been seen by every observer.</summary>
    public Task CaughtUpAsync(CancellationToken ct)
    {
        lock (_lock)
        {
            if (_done >= _enqueued) return Task.CompletedTask;
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((_enqueued, tcs));
            return tcs.Task.WaitAsync(ct);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        stoppingToken.Register(() => _queue.Writer.TryComplete());
        var batch = new List<StoredEvent>();
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            if (Volatile.Read(ref _waiting) > 1 && !stoppingToken.IsCancellationRequested)
                await Task.Delay(Linger, clock, CancellationToken.None);
            batch.Clear();
            var taken = 0;
            while (batch.Count < MaxEventsPerRound && _queue.Reader.TryRead(out var events))
            {
                batch.AddRange(events);
                taken++;
            }
            Interlocked.Add(ref _waiting, -taken);
            foreach (var o in _observers)
            {
                try { await o.OnCommittedAsync(batch); }
                catch (Exception e) { LogObserverFailed(logger, e, o.GetType().Name); }
            }
            lock (_lock)
            {
                _done += taken;
                for (var i = _waiters.Count - 1; i >= 0; i--)
                    if (_waiters[i].Target <= _done) { _waiters[i].Done.TrySetResult(); _waiters.RemoveAt(i); }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Ingest observer {Observer} failed; derived data may lag until 'herald analytics rebuild'")]
    private static partial void LogObserverFailed(ILogger logger, Exception e, string observer);
}
