using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Exports;

/// <summary>
/// A daily export: <c>events</c> (the previous local day's raw events, optionally of some names) or
/// <c>segment</c> (the segment's members with chosen attributes), written at <see cref="TimeOfDay"/>
/// in the app's timezone into <see cref="Folder"/> under the operator's export root.
/// </summary>
public sealed record ScheduledExportRequest
{
    public string? Name { get; init; }
    public bool Active { get; init; } = true;
    /// <summary>events | segment.</summary>
    public string? Kind { get; init; }
    public long? SegmentId { get; init; }
    /// <summary>Segment exports: profile attributes as columns (at most 50).</summary>
    public List<string>? Attributes { get; init; }
    /// <summary>Event exports: only these event names (all when empty).</summary>
    public List<string>? Events { get; init; }
    /// <summary>A relative folder under the app's export folder, e.g. "crm/daily"; empty for the app's folder itself.</summary>
    public string? Folder { get; init; }
    /// <summary>HH:mm in the app's timezone.</summary>
    public string? TimeOfDay { get; init; }
}

public sealed record ScheduledExportView(
    long Id, string Name, bool Active, string Kind, long? SegmentId, IReadOnlyList<string> Attributes, IReadOnlyList<string> Events,
    string Folder, string TimeOfDay, string Timezone, long NextRunAt, long? LastRunAt, string? LastStatus, string? LastFile, long? LastRows,
    string? LastError, long CreatedAt, long UpdatedAt);

/// <summary>What one run wrote.</summary>
public sealed record ExportRun(string Status, string? File, long Rows, string? Error, long At);

/// <summary>Herald:Exports.</summary>
public sealed class ExportOptions
{
    public const string Section = "Herald:Exports";
    /// <summary>Where scheduled exports are written (each app under app-{id}/); default: {DataDirectory}/exports.</summary>
    public string? Root { get; set; }
    /// <summary>Whether this node writes due exports (off on nodes that should only serve the API).</summary>
    public bool WorkerEnabled { get; set; } = true;
    /// <summary>How often a node looks for due exports.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan Poll { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>How long a node may take to write one export before another may take it over.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(30);
    /// <summary>A failed run is tried again after this, or at the next scheduled time if that comes first.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromHours(1);
}
