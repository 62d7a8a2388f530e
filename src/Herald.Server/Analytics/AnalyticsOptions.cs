using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Analytics;

public sealed class AnalyticsOptions
{
    public const string Section = "Herald:Analytics";

    /// <summary>Memory for cached day bitmaps per node; 256 MB holds a year of 20 events for ~1M devices.</summary>
    [Range(1, 1 << 20)]
    public int RollupCacheMegabytes { get; set; } = 256;

    /// <summary>Memory for cached funnel indexes (8 bytes per event plus 8 per ordinal).</summary>
    [Range(1, 1 << 20)]
    public int IndexCacheMegabytes { get; set; } = 512;

    /// <summary>
    /// How long a snapshot of device facts and profile attributes serves segment evaluation before
    /// it is read again. Segments' attribute clauses may lag profile edits by this much; behaviour
    /// clauses never lag (they read the rollups).
    /// </summary>
    public TimeSpan ProfileSnapshotTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A segment not used to target a send for this long becomes inactive (R-SEG-4).</summary>
    public TimeSpan SegmentInactiveAfter { get; set; } = TimeSpan.FromDays(90);
}
