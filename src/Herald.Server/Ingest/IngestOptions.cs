using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Ingest;

/// <summary>Bound from <c>Herald:Ingest</c>. The event limits are documented in docs/api.md.</summary>
public sealed class IngestOptions
{
    public const string Section = "Herald:Ingest";

    /// <summary>At most this many attributes (properties) per event (R-EV-2).</summary>
    [Range(1, 1000)] public int MaxAttributes { get; set; } = 25;

    /// <summary>Longest string attribute value, in characters.</summary>
    [Range(1, 100_000)] public int MaxStringLength { get; set; } = 1024;

    /// <summary>Most items in a string-list attribute; each item at most <see cref="MaxListItemLength"/> characters.</summary>
    [Range(1, 10_000)] public int MaxListItems { get; set; } = 100;

    [Range(1, 10_000)] public int MaxListItemLength { get; set; } = 256;

    /// <summary>Numbers must lie within ±this (beyond 2^53 doubles lose integer precision).</summary>
    [Range(1, double.MaxValue)] public double MaxNumberMagnitude { get; set; } = 1e15;

    [Range(1, 1000)] public int MaxNameLength { get; set; } = 128;

    /// <summary>Segment spec: 32 KB per event.</summary>
    [Range(1024, 10_000_000)] public int MaxEventBytes { get; set; } = 32 * 1024;

    /// <summary>Segment spec: 500 KB per batch request (after gzip is inflated).</summary>
    [Range(1024, 100_000_000)] public int MaxBatchBytes { get; set; } = 500 * 1024;

    /// <summary>Offline devices send late (R-EV-3): accept events this old.</summary>
    public TimeSpan MaxEventAge { get; set; } = TimeSpan.FromDays(365);

    /// <summary>After clock-skew correction an event may be at most this far in the future.</summary>
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Concurrent group-commit transactions on PostgreSQL (SQLite always uses one).</summary>
    [Range(1, 64)] public int PostgresWriters { get; set; } = 3;

    /// <summary>Group commit: at most this many events in one transaction.</summary>
    [Range(1, 1_000_000)] public int MaxEventsPerCommit { get; set; } = 20_000;
}
