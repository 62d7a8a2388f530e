namespace Herald.Domain.Scheduling;

/// <summary>
/// Maximum messages per person per day / week (R-MSG-6), counted across all campaigns. The app-wide
/// caps apply unless the campaign may ignore them; the campaign's own caps always apply.
/// </summary>
public sealed record FrequencyCap(int? PerDay, int? PerWeek)
{
    public static readonly FrequencyCap None = new(null, null);

    /// <summary>Null when one more message is allowed, else the reason it is not.</summary>
    public string? Refuse(int sentLastDay, int sentLastWeek)
    {
        if (PerDay is { } d && sentLastDay >= d) return $"frequency cap: {d} per day";
        if (PerWeek is { } w && sentLastWeek >= w) return $"frequency cap: {w} per week";
        return null;
    }

    /// <summary>The stricter of two caps, limit by limit.</summary>
    public FrequencyCap And(FrequencyCap other) => new(Min(PerDay, other.PerDay), Min(PerWeek, other.PerWeek));

    private static int? Min(int? a, int? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);
}
