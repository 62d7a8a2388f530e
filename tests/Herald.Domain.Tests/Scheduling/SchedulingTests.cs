using System.Globalization;
using Herald.Domain.Scheduling;

namespace Herald.Domain.Tests.Scheduling;

public class SchedulingTests
{
    private static readonly TimeZoneInfo Istanbul = TimeZoneInfo.FindSystemTimeZoneById("Europe/Istanbul");
    private static readonly TimeZoneInfo Tokyo = TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo");
    private static readonly TimeZoneInfo NewYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");

    private static DateTimeOffset Utc(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    [Fact]
    public void Nine_local_is_nine_in_istanbul_tokyo_and_new_york()
    {
        var date = new DateOnly(2026, 12, 1);
        var nine = new TimeOnly(9, 0);
        LocalTimes.At(date, nine, Istanbul).UtcDateTime.ShouldBe(Utc("2026-12-01T06:00:00Z").UtcDateTime);
        LocalTimes.At(date, nine, Tokyo).UtcDateTime.ShouldBe(Utc("2026-12-01T00:00:00Z").UtcDateTime);
        LocalTimes.At(date, nine, NewYork).UtcDateTime.ShouldBe(Utc("2026-12-01T14:00:00Z").UtcDateTime);
        LocalTimes.At(new DateOnly(2026, 7, 1), nine, NewYork).UtcDateTime.ShouldBe(Utc("2026-07-01T13:00:00Z").UtcDateTime);
    }

    [Fact]
    public void A_time_skipped_by_daylight_saving_moves_forward_and_a_repeated_one_takes_the_first()
    {
        // 2026-03-08 02:30 does not exist in New York (clocks jump 02:00 → 03:00).
        LocalTimes.At(new DateOnly(2026, 3, 8), new TimeOnly(2, 30), NewYork).UtcDateTime.ShouldBe(Utc("2026-03-08T07:30:00Z").UtcDateTime);
        // 2026-11-01 01:30 happens twice; the first is EDT (UTC-4).
        LocalTimes.At(new DateOnly(2026, 11, 1), new TimeOnly(1, 30), NewYork).UtcDateTime.ShouldBe(Utc("2026-11-01T05:30:00Z").UtcDateTime);
    }

    [Fact]
    public void Quiet_hours_across_midnight_defer_to_their_end_never_drop()
    {
        var w = new DeliveryWindow(new TimeOnly(22, 0), new TimeOnly(8, 0));
        // 23:30 Istanbul → 08:00 next day Istanbul.
        w.NextAllowed(Utc("2026-12-01T20:30:00Z"), Istanbul).UtcDateTime.ShouldBe(Utc("2026-12-02T05:00:00Z").UtcDateTime);
        // 03:00 Istanbul → 08:00 same day.
        w.NextAllowed(Utc("2026-12-02T00:00:00Z"), Istanbul).UtcDateTime.ShouldBe(Utc("2026-12-02T05:00:00Z").UtcDateTime);
        // 12:00 is allowed as is.
        w.NextAllowed(Utc("2026-12-02T09:00:00Z"), Istanbul).ShouldBe(Utc("2026-12-02T09:00:00Z"));
        w.IsQuiet(new TimeOnly(8, 0)).ShouldBeFalse();
        w.IsQuiet(new TimeOnly(22, 0)).ShouldBeTrue();
    }

    [Fact]
    public void Allowed_weekdays_push_a_weekend_send_to_monday_morning_outside_quiet_hours()
    {
        var w = new DeliveryWindow(new TimeOnly(0, 0), new TimeOnly(9, 0), new HashSet<DayOfWeek> { DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday });
        // Saturday 2026-12-05 12:00 Tokyo → Monday 2026-12-07 09:00 Tokyo.
        w.NextAllowed(Utc("2026-12-05T03:00:00Z"), Tokyo).UtcDateTime.ShouldBe(Utc("2026-12-07T00:00:00Z").UtcDateTime);
    }

    [Fact]
    public void Frequency_caps_count_day_and_week_and_combine_to_the_stricter()
    {
        var app = new FrequencyCap(3, 10);
        app.Refuse(2, 9).ShouldBeNull();
        app.Refuse(3, 3)!.ShouldContain("per day");
        app.Refuse(0, 10)!.ShouldContain("per week");
        app.And(new FrequencyCap(1, null)).ShouldBe(new FrequencyCap(1, 10));
        FrequencyCap.None.Refuse(1000, 1000).ShouldBeNull();
    }
}
