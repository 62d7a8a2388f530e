using Herald.Gateways.Email;

namespace Herald.Gateways.Tests.Email;

public class EmailPacerTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2030-03-01T12:00:00Z");

    [Fact]
    public void Unlimited_quota_never_paces()
    {
        var pacer = new EmailPacer(new EmailQuota(), new ManualClock(Start));

        for (int i = 0; i < 10_000; i++) pacer.TryAcquire(1, out _).ShouldBeTrue();
    }

    [Fact]
    public void The_rate_allows_one_second_of_burst_then_says_when_the_next_send_is_allowed()
    {
        var clock = new ManualClock(Start);
        var pacer = new EmailPacer(new EmailQuota { MaxSendRate = 14 }, clock);

        for (int i = 0; i < 14; i++) pacer.TryAcquire(1, out _).ShouldBeTrue();
        pacer.TryAcquire(1, out var wait).ShouldBeFalse();
        wait.ShouldBe(TimeSpan.FromMilliseconds(72)); // 1/14 s, rounded up to the millisecond

        clock.Advance(wait);
        pacer.TryAcquire(1, out _).ShouldBeTrue();
        pacer.TryAcquire(1, out _).ShouldBeFalse();
    }

    [Fact]
    public void A_refused_attempt_takes_no_quota()
    {
        var clock = new ManualClock(Start);
        var pacer = new EmailPacer(new EmailQuota { MaxSendRate = 1, Max24HourSend = 10 }, clock);

        pacer.TryAcquire(1, out _).ShouldBeTrue();
        for (int i = 0; i < 5; i++) pacer.TryAcquire(1, out _).ShouldBeFalse();

        pacer.SentInLast24Hours.ShouldBe(1);
        clock.Advance(TimeSpan.FromSeconds(1));
        pacer.TryAcquire(1, out _).ShouldBeTrue();
    }

    [Fact]
    public void The_sandbox_daily_quota_of_200_waits_until_the_oldest_sends_leave_the_24_hour_window()
    {
        var clock = new ManualClock(Start);
        var pacer = new EmailPacer(new EmailQuota { MaxSendRate = 1, Max24HourSend = 200 }, clock);

        for (int i = 0; i < 200; i++)
        {
            pacer.TryAcquire(1, out var w).ShouldBeTrue($"send {i} waited {w}");
            clock.Advance(TimeSpan.FromMinutes(1));
        }
        pacer.SentInLast24Hours.ShouldBe(200);

        pacer.TryAcquire(1, out var wait).ShouldBeFalse();
        // The first send was at Start; now is Start + 200 min; it leaves the window a second after Start + 24 h.
        wait.ShouldBe(TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1) - TimeSpan.FromMinutes(200));

        clock.Advance(wait - TimeSpan.FromSeconds(1));
        pacer.TryAcquire(1, out _).ShouldBeFalse();
        clock.Advance(TimeSpan.FromSeconds(1));
        pacer.TryAcquire(1, out _).ShouldBeTrue();
        pacer.SentInLast24Hours.ShouldBe(200);
    }

    [Fact]
    public void Recipients_are_counted_not_messages()
    {
        var clock = new ManualClock(Start);
        var pacer = new EmailPacer(new EmailQuota { Max24HourSend = 10 }, clock);

        pacer.TryAcquire(7, out _).ShouldBeTrue();
        pacer.TryAcquire(4, out _).ShouldBeFalse();
        pacer.TryAcquire(3, out _).ShouldBeTrue();
        pacer.SentInLast24Hours.ShouldBe(10);
    }

    [Fact]
    public void Sends_within_one_second_share_an_entry_and_expire_together()
    {
        var clock = new ManualClock(Start);
        var pacer = new EmailPacer(new EmailQuota { Max24HourSend = 3 }, clock);

        pacer.TryAcquire(1, out _).ShouldBeTrue();
        clock.Advance(TimeSpan.FromMilliseconds(300));
        pacer.TryAcquire(2, out _).ShouldBeTrue();
        pacer.TryAcquire(1, out var wait).ShouldBeFalse();

        wait.ShouldBe(TimeSpan.FromHours(24) + TimeSpan.FromMilliseconds(700));
        clock.Advance(wait);
        pacer.SentInLast24Hours.ShouldBe(0);
    }
}
