using Herald.Gateways.Http;

namespace Herald.Gateways.Tests;

public sealed class ThroughputMachineryTests
{
    [Fact]
    public void Token_bucket_never_exceeds_the_quota_within_one_period()
    {
        var clock = new ManualClock();
        var bucket = new TokenBucket(600, TimeSpan.FromMinutes(1), time: clock);
        var taken = 0;

        for (var second = 0; second < 60; second++)
        {
            while (bucket.TryTake(out _))
                taken++;
            clock.Advance(TimeSpan.FromSeconds(1));
        }

        taken.ShouldBeLessThanOrEqualTo(600);
        taken.ShouldBeGreaterThanOrEqualTo(550); // a full bucket drops the fraction it cannot hold
    }

    [Fact]
    public void Empty_token_bucket_says_how_long_until_the_next_permit()
    {
        var clock = new ManualClock();
        var bucket = new TokenBucket(61, TimeSpan.FromMinutes(1), burst: 1, time: clock); // one per second after the burst

        bucket.TryTake(out _).ShouldBeTrue();
        bucket.TryTake(out var wait).ShouldBeFalse();

        wait.ShouldBe(TimeSpan.FromSeconds(1));
        clock.Advance(wait);
        bucket.TryTake(out _).ShouldBeTrue();
    }

    [Fact]
    public void Exponential_backoff_doubles_and_is_capped()
    {
        Backoff.Exponential(TimeSpan.FromSeconds(1), 1, jitter: 0).ShouldBe(TimeSpan.FromSeconds(1));
        Backoff.Exponential(TimeSpan.FromSeconds(1), 3, jitter: 0).ShouldBe(TimeSpan.FromSeconds(4));
        Backoff.Exponential(TimeSpan.FromSeconds(1), 30, TimeSpan.FromMinutes(5), jitter: 0).ShouldBe(TimeSpan.FromMinutes(5));
    }

    [Fact]
    public void Jitter_only_lengthens_the_delay()
    {
        for (var i = 0; i < 100; i++)
            Backoff.Exponential(TimeSpan.FromMinutes(1), 1).ShouldBeInRange(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1.2));
    }

    [Fact]
    public void Only_retry_later_outcomes_have_a_retry_delay()
    {
        Should.Throw<ArgumentException>(() => Backoff.ForAttempt(SendOutcome.Dead("UNREGISTERED"), 1));
    }

    [Fact]
    public void Device_level_answers_are_not_provider_failures()
    {
        SendGuard.IsProviderFailure(SendOutcome.Dead("x", 404)).ShouldBeFalse();
        SendGuard.IsProviderFailure(SendOutcome.Refused("x", 400)).ShouldBeFalse();
        SendGuard.IsProviderFailure(SendOutcome.Retry(TimeSpan.FromMinutes(1), "quota", 429)).ShouldBeFalse();
        SendGuard.IsProviderFailure(SendOutcome.Retry(TimeSpan.FromSeconds(1), "x", 503)).ShouldBeTrue();
        SendGuard.IsProviderFailure(SendOutcome.Retry(TimeSpan.FromSeconds(1), "timeout")).ShouldBeTrue();
        SendGuard.IsProviderFailure(SendOutcome.Misconfigured("x", 401)).ShouldBeTrue();
    }
}
