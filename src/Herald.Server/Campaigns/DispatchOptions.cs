using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Campaigns;

/// <summary>Bound from <c>Herald:Dispatch</c>.</summary>
public sealed class DispatchOptions
{
    public const string Section = "Herald:Dispatch";

    /// <summary>Ledger rows one worker claims at a time.</summary>
    [Range(1, 10_000)] public int ChunkSize { get; set; } = 500;

    /// <summary>Provider requests in flight for bulk sends, per node.</summary>
    [Range(1, 4096)] public int BulkConcurrency { get; set; } = 128;

    /// <summary>
    /// Chunks each lane works on at once: the next chunk is claimed, and the last one recorded, while
    /// the others' provider requests run. All chunks of a lane share its concurrency.
    /// </summary>
    [Range(1, 16)] public int ChunksInFlight { get; set; } = 3;

    /// <summary>The urgent lane's own share (fast push): bulk traffic never uses it.</summary>
    [Range(1, 4096)] public int UrgentConcurrency { get; set; } = 64;

    /// <summary>A claimed row not finished within this time is handed back (its node died).</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often each node looks for expired leases.</summary>
    public TimeSpan LeaseCheck { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Tries per message before it is recorded as failed.</summary>
    [Range(1, 100)] public int MaxAttempts { get; set; } = 5;

    /// <summary>How often an idle worker looks for due rows (a send on this node wakes it at once).</summary>
    public TimeSpan Poll { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>When a channel's credentials are wrong, its messages wait this long before the next try.</summary>
    public TimeSpan ConfigErrorPause { get; set; } = TimeSpan.FromMinutes(5);
}
