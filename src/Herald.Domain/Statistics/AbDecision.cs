using System.Globalization;

namespace Herald.Domain.Statistics;

public enum AbMetric { OpenRate, ConversionRate, RevenuePerRecipient }

/// <summary>What to send when no variant is significantly better.</summary>
public enum AbFallback { KeepA, BestObserved }

/// <summary>
/// One variant's test cohort: recipients the message reached, how many of them opened or converted
/// (for the rate metrics), and Σ revenue and Σ revenue² over those recipients (a recipient without
/// revenue counts as 0).
/// </summary>
public sealed record VariantSample(string Name, long Recipients, long Successes, double RevenueSum = 0, double RevenueSumOfSquares = 0);

/// <summary>
/// The best variant against one other: the test statistic (z or t; none when one sample had no
/// variance), the degrees of freedom (t-test only) and the unadjusted two-sided p.
/// </summary>
public sealed record AbComparison(int Against, double? Statistic, double? DegreesOfFreedom, double PValue);

/// <summary>
/// The decision: <see cref="Winner"/> is what the rest of the audience gets. <see cref="PValue"/> is
/// the Bonferroni-adjusted p of the weakest comparison of the best variant against the others.
/// </summary>
public sealed record AbVerdict(int Winner, int Best, IReadOnlyList<double> Values, double PValue, double Alpha, bool Significant,
    bool FallbackApplied, string Test, string Reason, IReadOnlyList<AbComparison> Comparisons);

/// <summary>
/// Picks an A/B winner (R-MSG-7). The variant with the best observed metric is compared with every
/// other one — two-proportion z-test for open and conversion rates, Welch's t-test for revenue per
/// recipient — and wins only if every comparison is significant after a Bonferroni correction for
/// the k − 1 comparisons (p × (k − 1) &lt; α). Otherwise the fallback rule chooses. Ties in the
/// observed metric go to the earlier variant.
/// </summary>
public static class AbDecision
{
    public static AbVerdict Decide(IReadOnlyList<VariantSample> samples, AbMetric metric, double alpha, AbFallback fallback)
    {
        if (samples.Count < 2) throw new ArgumentException("An A/B decision needs at least two variants.", nameof(samples));
        if (alpha is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be between 0 and 1.");
        var values = samples.Select(s => Value(s, metric)).ToList();
        var best = 0;
        for (var i = 1; i < values.Count; i++)
            if (values[i] > values[best]) best = i;

        var comparisons = new List<AbComparison>();
        for (var j = 0; j < samples.Count; j++)
        {
            if (j == best) continue;
            var r = Compare(samples[best], samples[j], metric);
            comparisons.Add(new AbComparison(j, double.IsFinite(r.Statistic) ? r.Statistic : null,
                metric == AbMetric.RevenuePerRecipient && double.IsFinite(r.DegreesOfFreedom) ? r.DegreesOfFreedom : null, r.PValue));
        }
        var weakest = comparisons.Max(c => c.PValue);
        var adjusted = Math.Min(1, weakest * comparisons.Count);
        var significant = adjusted < alpha;
        var test = metric == AbMetric.RevenuePerRecipient ? "Welch's t-test" : "two-proportion z-test (pooled)";
        if (comparisons.Count > 1) test += $", Bonferroni-corrected for {comparisons.Count} comparisons";

        string Show(int i) => $"{Format(values[i], metric)} ({samples[i].Name})";
        var others = string.Join(", ", Enumerable.Range(0, samples.Count).Where(i => i != best).Select(Show));
        var p = P(adjusted);
        if (significant)
            return new AbVerdict(best, best, values, adjusted, alpha, true, false, test,
                $"{samples[best].Name} wins: {Name(metric)} {Show(best)} vs {others}; p = {p} < α = {P(alpha)}.", comparisons);
        var winner = fallback == AbFallback.KeepA ? 0 : best;
        var rule = fallback == AbFallback.KeepA ? "keep variant A" : "send the best observed variant";
        return new AbVerdict(winner, best, values, adjusted, alpha, false, true, test,
            $"No significant difference: {Name(metric)} {Show(best)} vs {others}; p = {p} ≥ α = {P(alpha)}. Fallback rule: {rule} — {samples[winner].Name} is sent.",
            comparisons);
    }

    public static double Value(VariantSample s, AbMetric metric) => s.Recipients == 0 ? 0 : metric switch
    {
        AbMetric.RevenuePerRecipient => s.RevenueSum / s.Recipients,
        _ => (double)s.Successes / s.Recipients,
    };

    private static TestResult Compare(VariantSample a, VariantSample b, AbMetric metric)
    {
        if (metric != AbMetric.RevenuePerRecipient)
            return SignificanceTests.TwoProportionZ(a.Successes, a.Recipients, b.Successes, b.Recipients);
        var (ma, va) = SignificanceTests.MeanAndVariance(a.Recipients, a.RevenueSum, a.RevenueSumOfSquares);
        var (mb, vb) = SignificanceTests.MeanAndVariance(b.Recipients, b.RevenueSum, b.RevenueSumOfSquares);
        return SignificanceTests.WelchT(a.Recipients, ma, va, b.Recipients, mb, vb);
    }

    private static string Name(AbMetric m) => m switch
    {
        AbMetric.OpenRate => "open rate",
        AbMetric.ConversionRate => "conversion rate",
        _ => "revenue per recipient",
    };

    private static string Format(double v, AbMetric m) =>
        m == AbMetric.RevenuePerRecipient ? v.ToString("0.00", CultureInfo.InvariantCulture) : (v * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static string P(double p) => p < 0.0001 ? p.ToString("0.0E+0", CultureInfo.InvariantCulture) : p.ToString("0.####", CultureInfo.InvariantCulture);
}
