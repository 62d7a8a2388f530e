namespace Herald.Domain.Analytics;

// N-day (or N-week) cohort retention over EventIndex columns.
//
// Semantics: an ordinal's cohort is the bucket of its earliest cohort-entry event (first-time
// cohort; the caller restricts the index to the date range it reports on). It counts as returned
// in period d (1..N) if it has a returning event whose bucket is exactly cohort + d ("on day d",
// not "on or after"). Period 0 (same bucket as entry) is not reported: the entry itself would
// count. Buckets come from bucketOf(timestamp), which must be non-decreasing in time (day numbers
// in the app's time zone, week numbers, ...).
public static class RetentionEngine
{
    public static RetentionResult Compute(
        EventIndex cohortEvent,
        EventIndex returnEvent,
        Func<long, int> bucketOf,
        int periods,
        RoaringBitmap? population = null)
    {
        ArgumentNullException.ThrowIfNull(cohortEvent);
        ArgumentNullException.ThrowIfNull(returnEvent);
        ArgumentNullException.ThrowIfNull(bucketOf);
        if (periods is < 1 or > 1000) throw new ArgumentOutOfRangeException(nameof(periods), periods, "Periods must be 1..1000.");

        var rows = new Dictionary<int, (int Size, int[] Returned)>();
        var cohortOrdinals = cohortEvent.OrdinalArray;
        var cohortOffsets = cohortEvent.OffsetArray;
        var cohortTimes = cohortEvent.TimestampArray;
        var returnOrdinals = returnEvent.OrdinalArray;
        var returnOffsets = returnEvent.OffsetArray;
        var returnTimes = returnEvent.TimestampArray;
        int cursor = 0;
        int lastCohort = int.MinValue;
        (int Size, int[] Returned) row = default;

        for (int i = 0; i < cohortOrdinals.Length; i++)
        {
            uint ordinal = cohortOrdinals[i];
            if (population is not null && !population.Contains(ordinal)) continue;
            int cohort = bucketOf(cohortTimes[cohortOffsets[i]]);
            if (cohort != lastCohort || row.Returned is null)
            {
                if (row.Returned is not null) rows[lastCohort] = row;
                row = rows.TryGetValue(cohort, out var existing) ? existing : (0, new int[periods]);
                lastCohort = cohort;
            }
            row.Size++;

            cursor = EventIndex.Seek(returnOrdinals, cursor, ordinal);
            if (cursor < returnOrdinals.Length && returnOrdinals[cursor] == ordinal)
            {
                int lastPeriod = 0;
                for (int t = returnOffsets[cursor]; t < returnOffsets[cursor + 1]; t++)
                {
                    int period = bucketOf(returnTimes[t]) - cohort;
                    if (period <= lastPeriod) continue;
                    if (period > periods) break;
                    row.Returned[period - 1]++;
                    lastPeriod = period;
                }
            }
        }
        if (row.Returned is not null) rows[lastCohort] = row;

        var cohorts = new RetentionCohort[rows.Count];
        int n = 0;
        foreach (var (bucket, r) in rows) cohorts[n++] = new RetentionCohort(bucket, r.Size, r.Returned);
        Array.Sort(cohorts, (a, b) => a.Bucket.CompareTo(b.Bucket));
        return new RetentionResult(periods, cohorts);
    }

    public static Func<long, int> UtcDays => static t => (int)Math.Floor(t / 86_400_000.0);

    // Day numbers (days since 1970-01-01 as a local date) in the given time zone.
    public static Func<long, int> Days(TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        return t =>
        {
            var local = TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(t), zone);
            return DateOnly.FromDateTime(local.DateTime).DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;
        };
    }

    // Week numbers from day numbers; weekStart = day number of any day that starts a week
    // (1970-01-01 was a Thursday, so Monday-based weeks use weekStart = 4).
    public static Func<long, int> Weeks(Func<long, int> dayOf, int weekStart = 4)
    {
        ArgumentNullException.ThrowIfNull(dayOf);
        return t => (int)Math.Floor((dayOf(t) - weekStart) / 7.0);
    }
}

public sealed record RetentionCohort(int Bucket, int Size, IReadOnlyList<int> Returned)
{
    // Returned[d - 1] = ordinals of this cohort that came back in period d.
    public double Rate(int period) => Size == 0 ? 0 : (double)Returned[period - 1] / Size;
}

public sealed record RetentionResult(int Periods, IReadOnlyList<RetentionCohort> Cohorts);
