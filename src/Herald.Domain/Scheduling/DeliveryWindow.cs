namespace Herald.Domain.Scheduling;

/// <summary>
/// When a message may reach a person, in their own timezone (R-MSG-5, R-MSG-6): quiet hours (a
/// window that may wrap midnight) and allowed weekdays. A send that falls outside is deferred to
/// the next allowed moment — never dropped.
/// </summary>
public sealed record DeliveryWindow(TimeOnly? QuietStart = null, TimeOnly? QuietEnd = null, IReadOnlySet<DayOfWeek>? AllowedDays = null)
{
    public static readonly DeliveryWindow Always = new();

    public bool IsQuiet(TimeOnly local)
    {
        if (QuietStart is not { } s || QuietEnd is not { } e || s == e) return false;
        return s < e ? local >= s && local < e : local >= s || local < e;
    }

    /// <summary>The first moment at or after <paramref name="utc"/> that is allowed in <paramref name="zone"/>.</summary>
    public DateTimeOffset NextAllowed(DateTimeOffset utc, TimeZoneInfo zone)
    {
        var candidate = utc;
        // A week plus a day covers every combination of quiet hours and allowed days.
        for (var i = 0; i < 16; i++)
        {
            var local = TimeZoneInfo.ConvertTime(candidate, zone);
            var time = TimeOnly.FromDateTime(local.DateTime);
            if (AllowedDays is { Count: > 0 } days && !days.Contains(local.DayOfWeek))
            {
                candidate = LocalTimes.At(DateOnly.FromDateTime(local.DateTime).AddDays(1), TimeOnly.MinValue, zone);
                continue;
            }
            if (IsQuiet(time))
            {
                var endDate = DateOnly.FromDateTime(local.DateTime);
                if (QuietEnd!.Value <= time) endDate = endDate.AddDays(1);
                candidate = LocalTimes.At(endDate, QuietEnd.Value, zone);
                continue;
            }
            return candidate;
        }
        throw new InvalidOperationException("No allowed moment within a week: the allowed days are empty.");
    }
}

public static class LocalTimes
{
    /// <summary>
    /// The UTC instant of a wall-clock time in a zone. A time skipped by a DST jump is moved forward
    /// by the jump (02:30 on a spring-forward night is 03:30); a repeated time takes its first occurrence.
    /// </summary>
    public static DateTimeOffset At(DateOnly date, TimeOnly time, TimeZoneInfo zone)
    {
        var local = date.ToDateTime(time, DateTimeKind.Unspecified);
        if (zone.IsInvalidTime(local))
        {
            var probe = local;
            while (zone.IsInvalidTime(probe)) probe = probe.AddMinutes(1);
            var gap = zone.GetUtcOffset(probe) - zone.GetUtcOffset(local.AddDays(-1));
            local = local.Add(gap);
        }
        var offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset);
    }
}
