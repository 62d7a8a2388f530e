using System.Text.Json;

namespace Herald.Server.Analytics;

public sealed record EventSeries(
    string Event, string Timezone, string Interval, string From, string To, bool Exact, double? StandardError,
    IReadOnlyList<SeriesBucket> Buckets, SeriesBucket Total, string? BreakdownBy, IReadOnlyList<BreakdownRow>? Breakdown);

/// <summary>One day, week (Monday first) or month in the app's timezone; <c>start</c> is its first local date.</summary>
public sealed record SeriesBucket(string Start, long Count, long UniqueDevices, long UniqueUsers, double Revenue);

/// <summary>One value of the breakdown attribute; the values beyond the top N are summed into <c>other</c>.</summary>
public sealed record BreakdownRow(string? Value, bool Other, long Count, long UniqueDevices, long UniqueUsers);

public sealed record FunnelStepRequest(string? Event, JsonElement? Where = null);

public sealed record FunnelRequest(
    IReadOnlyList<FunnelStepRequest>? Steps, long? WindowSeconds = null, string? Order = null,
    FunnelStepRequest? Exclude = null, string? By = null, string? From = null, string? To = null);

public sealed record FunnelStepResult(int Step, string Event, long Count, double ConversionFromPrevious, double ConversionFromStart, long DroppedAfter);

public sealed record FunnelResponse(string By, string Order, long WindowSeconds, string? From, string? To, IReadOnlyList<FunnelStepResult> Steps, long Converted, double ConversionRate);

public sealed record RetentionCohortView(string Start, int Size, IReadOnlyList<int> Returned, IReadOnlyList<double> Rates);

public sealed record RetentionResponse(string CohortEvent, string ReturnEvent, string Period, int Periods, string By, string Timezone, IReadOnlyList<RetentionCohortView> Cohorts);
