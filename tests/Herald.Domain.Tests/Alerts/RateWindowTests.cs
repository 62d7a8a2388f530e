using Herald.Domain.Alerts;

namespace Herald.Domain.Tests.Alerts;

public class RateWindowTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private static string[] Fails(int n, string reason = "invalid") => Enumerable.Repeat(reason, n).ToArray();

    [Fact]
    public void Counts_inside_the_window_add_up_and_expire_after_it()
    {
        var w = new RateWindow(TimeSpan.FromMinutes(5));
        w.Add(T0, 10, Fails(3));
        w.Add(T0.AddMinutes(2), 10, Fails(1, "token dead"));
        var s = w.Read(T0.AddMinutes(2));
        s.Failed.ShouldBe(4);
        s.Total.ShouldBe(20);
        s.Rate.ShouldBe(0.2);

        // Five minutes after the first add, it has left the window; the second has not.
        var later = w.Read(T0.AddMinutes(5));
        later.Failed.ShouldBe(1);
        later.Total.ShouldBe(10);
        w.IsEmpty(T0.AddMinutes(7)).ShouldBeTrue();
    }

    [Fact]
    public void A_rate_crosses_only_with_enough_outcomes()
    {
        var w = new RateWindow(TimeSpan.FromMinutes(5));
        w.Add(T0, 40, Fails(12));
        w.Read(T0).Crosses(0.2, 50).ShouldBeFalse();
        w.Add(T0, 20, Fails(6));
        w.Read(T0).Crosses(0.2, 50).ShouldBeTrue();
        w.Read(T0).Crosses(0.31, 50).ShouldBeFalse();
        new RateWindow(TimeSpan.FromMinutes(5)).Read(T0).Crosses(0, 0).ShouldBeFalse();
    }

    [Fact]
    public void Top_reasons_are_the_most_frequent_and_distinct_reasons_are_bounded()
    {
        var w = new RateWindow(TimeSpan.FromMinutes(5));
        w.Add(T0, 100, [.. Fails(5, "a"), .. Fails(9, "b"), .. Fails(2, "c"), .. Fails(1, "d")]);
        w.Read(T0, 2).TopReasons.ShouldBe([new ReasonCount("b", 9), new ReasonCount("a", 5)]);

        var many = new RateWindow(TimeSpan.FromMinutes(5));
        many.Add(T0, 100, Enumerable.Range(0, 50).Select(i => $"r{i}").ToArray());
        var top = many.Read(T0, 100).TopReasons;
        top.Count.ShouldBe(RateWindow.MaxReasonsPerBucket + 1);
        top[0].ShouldBe(new ReasonCount("other", 50 - RateWindow.MaxReasonsPerBucket));
        top.Sum(r => r.Count).ShouldBe(50);
    }

    [Fact]
    public void An_add_older_than_the_window_is_dropped_and_a_reused_slot_starts_empty()
    {
        var w = new RateWindow(TimeSpan.FromMinutes(5));
        w.Add(T0.AddMinutes(6), 10, Fails(1));
        w.Add(T0.AddMinutes(1), 10, Fails(10));
        var s = w.Read(T0.AddMinutes(6));
        s.Total.ShouldBe(10);
        s.Failed.ShouldBe(1);
        Should.Throw<ArgumentOutOfRangeException>(() => w.Add(T0, 1, Fails(2)));
    }
}
