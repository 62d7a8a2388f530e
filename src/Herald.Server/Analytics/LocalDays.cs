using System.Globalization;
using Herald.Server.Infrastructure;

namespace Herald.Server.Analytics;

/// <summary>
/// Calendar days in an app's timezone as day numbers (days since 1970-01-01 of the local date), the
/// unit rollups are kept in, so day / week / month reports in that timezone are exact.
/// </summary>
public sealed class LocalDays(TimeZoneInfo zone)
{
    private static readonly int Epoch = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    public TimeZoneInfo Zone { get; } = zone;

    public static LocalDays For(string timezone) => new(TimeZoneInfo.FindSystemTimeZoneById(timezone));

    public int DayOf(long unixMs)
    {
        var local = TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(unixMs), Zone);
        return DateOnly.FromDateTime(local.DateTime).DayNumber - Epoch;
    }

    public static int DayOf(DateOnly date) => date.DayNumber - Epoch;

    public static DateOnly DateOf(int day) => DateOnly.FromDayNumber(day + Epoch);

    /// <summary>Unix ms of local midnight starting the day (the first valid instant if midnight is skipped).</summary>
    public long StartOf(int day)
    {
        var local = DateOf(day).ToDateTime(TimeOnly.MinValue);
        while (Zone.IsInvalidTime(local)) local = local.AddMinutes(30);
        return new DateTimeOffset(local, Zone.GetUtcOffset(local)).ToUnixTimeMilliseconds();
    }

    public int Today(TimeProvider clock) => DayOf(clock.GetUtcNow().ToUnixTimeMilliseconds());

    /// <summary>Parses a request's local date ("2026-11-25"), naming the field when it is not one.</summary>
    public static DateOnly ParseDate(string value, string field) =>
        DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d
            : throw ProblemException.BadRequest($"{field} must be a date as YYYY-MM-DD; got '{value}'.", field);
}
