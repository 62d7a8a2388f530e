using Herald.Domain.Statistics;

namespace Herald.Domain.Tests.Statistics;

public class AbDecisionTests
{
    [Fact]
    public void A_significantly_better_variant_wins()
    {
        var v = AbDecision.Decide([new("A", 20, 2), new("B", 20, 18)], AbMetric.OpenRate, 0.05, AbFallback.KeepA);
        v.Winner.ShouldBe(1);
        v.Significant.ShouldBeTrue();
        v.FallbackApplied.ShouldBeFalse();
        v.PValue.ShouldBe(4.2004e-7, 1e-10);
        v.Values.ShouldBe([0.1, 0.9]);
        v.Reason.ShouldStartWith("B wins: open rate 90.0% (B) vs 10.0% (A)");
        v.Test.ShouldBe("two-proportion z-test (pooled)");
    }

    [Fact]
    public void Without_a_significant_difference_the_fallback_rule_decides()
    {
        // 40/200 vs 60/200 has p = 0.0209: significant at 0.05, not at 0.01.
        var keepA = AbDecision.Decide([new("A", 200, 40), new("B", 200, 60)], AbMetric.ConversionRate, 0.01, AbFallback.KeepA);
        keepA.Best.ShouldBe(1);
        keepA.Winner.ShouldBe(0);
        keepA.FallbackApplied.ShouldBeTrue();
        keepA.PValue.ShouldBe(0.0209213, 1e-6);
        keepA.Reason.ShouldContain("No significant difference");
        keepA.Reason.ShouldContain("keep variant A");
        var best = AbDecision.Decide([new("A", 200, 40), new("B", 200, 60)], AbMetric.ConversionRate, 0.01, AbFallback.BestObserved);
        best.Winner.ShouldBe(1);
        best.FallbackApplied.ShouldBeTrue();
        AbDecision.Decide([new("A", 200, 40), new("B", 200, 60)], AbMetric.ConversionRate, 0.05, AbFallback.KeepA).Winner.ShouldBe(1);
    }

    [Fact]
    public void With_three_variants_the_best_must_beat_each_other_after_bonferroni()
    {
        // Best is C (60/200). Against B (40/200) p = 0.0209, against A (58/200) p is large: no winner.
        var v = AbDecision.Decide([new("A", 200, 58), new("B", 200, 40), new("C", 200, 60)], AbMetric.OpenRate, 0.05, AbFallback.KeepA);
        v.Best.ShouldBe(2);
        v.Comparisons.Select(c => c.Against).ShouldBe([0, 1]);
        v.Comparisons[1].PValue.ShouldBe(0.0209213, 1e-6);
        v.PValue.ShouldBe(Math.Min(1, v.Comparisons.Max(c => c.PValue) * 2), 1e-12);
        v.Winner.ShouldBe(0);
        v.Test.ShouldContain("Bonferroni-corrected for 2 comparisons");

        // 0.0209 × 2 = 0.0418 < 0.05 when C beats both A and B by as much.
        var clear = AbDecision.Decide([new("A", 200, 40), new("B", 200, 40), new("C", 200, 60)], AbMetric.OpenRate, 0.05, AbFallback.KeepA);
        clear.Winner.ShouldBe(2);
        clear.PValue.ShouldBe(0.0418427, 1e-6);
    }

    [Fact]
    public void Revenue_per_recipient_uses_welchs_t_test()
    {
        double[] a = [12, 0, 0, 30, 5, 0, 7, 0];
        double[] b = [0, 0, 3, 0, 0, 0, 1, 0, 2];
        var v = AbDecision.Decide([new("A", a.Length, 0, a.Sum(), a.Sum(x => x * x)), new("B", b.Length, 0, b.Sum(), b.Sum(x => x * x))],
            AbMetric.RevenuePerRecipient, 0.05, AbFallback.BestObserved);
        v.Best.ShouldBe(0);
        v.Values[0].ShouldBe(6.75, 1e-12);
        v.PValue.ShouldBe(0.1420768, 1e-6);
        v.Winner.ShouldBe(0);
        v.FallbackApplied.ShouldBeTrue();
        v.Test.ShouldBe("Welch's t-test");
    }

    [Fact]
    public void Ties_go_to_the_earlier_variant()
    {
        var v = AbDecision.Decide([new("A", 10, 5), new("B", 10, 5)], AbMetric.OpenRate, 0.05, AbFallback.BestObserved);
        v.Best.ShouldBe(0);
        v.PValue.ShouldBe(1, 1e-7);
    }

    [Fact]
    public void The_split_is_even_deterministic_and_order_independent()
    {
        var audience = Enumerable.Range(1, 1000).ToList();
        var split = AbSplit.Assign(77, audience, 3, 0.2);
        var counts = split.Values.GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count());
        counts[AbSplit.Held].ShouldBe(800);
        new[] { counts[0], counts[1], counts[2] }.Order().ShouldBe([66, 67, 67]);
        AbSplit.Assign(77, Enumerable.Reverse(audience), 3, 0.2).ShouldBe(split);
        // Another campaign draws another cohort.
        var other = AbSplit.Assign(78, audience, 3, 0.2);
        other.Count(x => x.Value != AbSplit.Held && split[x.Key] != AbSplit.Held).ShouldBeLessThan(100);
        // The cohort is not simply the lowest ordinals.
        split.Where(x => x.Value != AbSplit.Held).Max(x => x.Key).ShouldBeGreaterThan(500);
    }

    [Fact]
    public void A_tiny_audience_still_gives_every_variant_a_recipient()
    {
        var split = AbSplit.Assign(5, [10, 11, 12, 13, 14], 2, 0.1);
        split.Values.Count(v => v == 0).ShouldBe(1);
        split.Values.Count(v => v == 1).ShouldBe(1);
        split.Values.Count(v => v == AbSplit.Held).ShouldBe(3);
    }

    [Fact]
    public void A_control_group_comes_from_the_held_part_and_leaves_the_test_cohort_as_it_was()
    {
        var audience = Enumerable.Range(1, 1000).ToList();
        var without = AbSplit.Assign(77, audience, 3, 0.2);
        var with = AbSplit.Assign(77, audience, 3, 0.2, controlShare: 0.1);
        with.Values.Count(v => v == AbSplit.Control).ShouldBe(100);
        with.Values.Count(v => v == AbSplit.Held).ShouldBe(700);
        // Every test recipient keeps its variant; the control group was held before.
        foreach (var (recipient, variant) in without.Where(x => x.Value >= 0)) with[recipient].ShouldBe(variant);
        with.Where(x => x.Value == AbSplit.Control).ShouldAllBe(x => without[x.Key] == AbSplit.Held);
        AbSplit.Assign(77, Enumerable.Reverse(audience), 3, 0.2, 0.1).ShouldBe(with);
        // A tiny share still draws one; more than the rest of the audience is refused.
        AbSplit.Assign(5, [10, 11, 12, 13, 14], 2, 0.1, 0.01).Values.Count(v => v == AbSplit.Control).ShouldBe(1);
        Should.Throw<ArgumentOutOfRangeException>(() => AbSplit.Assign(5, audience, 2, 0.6, 0.5));
    }
}
