namespace Herald.Domain.Statistics;

/// <summary>The outcome of a two-sample test: the statistic (z or t), degrees of freedom (t only) and the two-sided p-value.</summary>
public readonly record struct TestResult(double Statistic, double DegreesOfFreedom, double PValue);

/// <summary>
/// Significance tests for A/B decisions (R-MSG-7), written out rather than taken from a package so
/// every step can be checked against hand-computed values.
/// </summary>
public static class SignificanceTests
{
    /// <summary>
    /// Pooled two-proportion z-test of x1/n1 against x2/n2: z = (p1 − p2) / √(p̂(1 − p̂)(1/n1 + 1/n2))
    /// with p̂ = (x1 + x2)/(n1 + n2); two-sided p = erfc(|z|/√2). When either sample is empty, or both
    /// rates are 0 or both 1 (no variance to compare), there is no evidence of a difference: z = 0, p = 1.
    /// </summary>
    public static TestResult TwoProportionZ(long x1, long n1, long x2, long n2)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(x1);
        ArgumentOutOfRangeException.ThrowIfNegative(x2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(x1, n1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(x2, n2);
        if (n1 == 0 || n2 == 0) return new TestResult(0, double.PositiveInfinity, 1);
        var pooled = (double)(x1 + x2) / (n1 + n2);
        var se = Math.Sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2));
        if (se == 0) return new TestResult(0, double.PositiveInfinity, 1);
        var z = ((double)x1 / n1 - (double)x2 / n2) / se;
        return new TestResult(z, double.PositiveInfinity, Math.Min(1, Erfc(Math.Abs(z) / Math.Sqrt(2))));
    }

    /// <summary>
    /// Welch's unequal-variances t-test of two means from their sample sizes, means and (n − 1)
    /// variances: t = (m1 − m2) / √(v1/n1 + v2/n2), degrees of freedom by Welch–Satterthwaite, two-sided
    /// p from Student's t. A sample of fewer than 2 gives p = 1; with no variance in either sample the
    /// means either equal (p = 1) or differ with certainty (p = 0).
    /// </summary>
    public static TestResult WelchT(long n1, double mean1, double var1, long n2, double mean2, double var2)
    {
        if (n1 < 2 || n2 < 2) return new TestResult(0, 0, 1);
        var a = var1 / n1;
        var b = var2 / n2;
        var se2 = a + b;
        if (se2 <= 0) return mean1 == mean2 ? new TestResult(0, 0, 1) : new TestResult(Math.Sign(mean1 - mean2) * double.PositiveInfinity, 0, 0);
        var t = (mean1 - mean2) / Math.Sqrt(se2);
        var df = se2 * se2 / (a * a / (n1 - 1) + b * b / (n2 - 1));
        return new TestResult(t, df, StudentTTwoSided(t, df));
    }

    /// <summary>Sample mean and (n − 1) variance from n, Σx and Σx² (what a database aggregate returns).</summary>
    public static (double Mean, double Variance) MeanAndVariance(long n, double sum, double sumOfSquares)
    {
        if (n == 0) return (0, 0);
        var mean = sum / n;
        if (n < 2) return (mean, 0);
        // Clamped: rounding can make a zero variance come out a hair below zero.
        return (mean, Math.Max(0, (sumOfSquares - n * mean * mean) / (n - 1)));
    }

    /// <summary>Standard normal cumulative distribution Φ(x).</summary>
    public static double NormalCdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    /// <summary>P(|T| ≥ |t|) for Student's t with <paramref name="df"/> degrees of freedom: I_{df/(df+t²)}(df/2, 1/2).</summary>
    public static double StudentTTwoSided(double t, double df)
    {
        if (double.IsInfinity(t)) return 0;
        if (double.IsPositiveInfinity(df)) return Erfc(Math.Abs(t) / Math.Sqrt(2));
        return Math.Min(1, RegularizedIncompleteBeta(df / 2, 0.5, df / (df + t * t)));
    }

    /// <summary>
    /// Complementary error function, Chebyshev fit in t = 1/(1 + |x|/2) (fractional error below
    /// 1.2·10⁻⁷ everywhere, so p-values stay accurate in their leading digits even when tiny).
    /// </summary>
    public static double Erfc(double x)
    {
        var z = Math.Abs(x);
        var t = 1 / (1 + 0.5 * z);
        var r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }

    /// <summary>
    /// I_x(a, b), the regularized incomplete beta function: the continued fraction evaluated by the
    /// modified Lentz method on whichever side of the mean a/(a + b) converges fast, mirrored by
    /// I_x(a, b) = 1 − I_{1−x}(b, a) on the other.
    /// </summary>
    public static double RegularizedIncompleteBeta(double a, double b, double x)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        var front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x));
        return x < (a + 1) / (a + b + 2)
            ? front * BetaFraction(a, b, x) / a
            : 1 - front * BetaFraction(b, a, 1 - x) / b;
    }

    private static double BetaFraction(double a, double b, double x)
    {
        const double tiny = 1e-300, epsilon = 1e-15;
        double c = 1, d = 1 - (a + b) * x / (a + 1);
        if (Math.Abs(d) < tiny) d = tiny;
        d = 1 / d;
        var h = d;
        for (var m = 1; m <= 500; m++)
        {
            // Even step: d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m)).
            var even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
            d = 1 + even * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + even / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            h *= d * c;
            // Odd step: d_{2m+1} = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)).
            var odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            d = 1 + odd * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + odd / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            var step = d * c;
            h *= step;
            if (Math.Abs(step - 1) < epsilon) break;
        }
        return h;
    }

    /// <summary>ln Γ(x) for x &gt; 0 by the Lanczos approximation (g = 7, nine terms; about 15 significant digits).</summary>
    public static double LogGamma(double x)
    {
        ReadOnlySpan<double> c =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x); // reflection
        x -= 1;
        var sum = c[0];
        for (var i = 1; i < c.Length; i++) sum += c[i] / (x + i);
        var t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }
}
