using Herald.Domain.Statistics;

namespace Herald.Domain.Tests.Statistics;

public class SignificanceTestsTests
{
    [Fact]
    public void Two_proportion_z_test_matches_the_hand_computed_value()
    {
        // 40/200 vs 60/200: p̂ = 100/400 = 0.25, se = √(0.25·0.75·(1/200 + 1/200)) = √0.001875 = 0.0433013,
        // z = (0.2 − 0.3)/0.0433013 = −2.309401, p = erfc(2.309401/√2) = 0.0209213.
        var r = SignificanceTests.TwoProportionZ(40, 200, 60, 200);
        r.Statistic.ShouldBe(-2.309401, 1e-6);
        r.PValue.ShouldBe(0.0209213, 1e-6);
        // Symmetric in the order of the samples, up to the sign of z.
        SignificanceTests.TwoProportionZ(60, 200, 40, 200).PValue.ShouldBe(r.PValue, 1e-12);
        SignificanceTests.TwoProportionZ(60, 200, 40, 200).Statistic.ShouldBe(2.309401, 1e-6);
    }

    [Fact]
    public void A_large_difference_in_small_samples_is_significant_and_equal_rates_are_not()
    {
        // 18/20 vs 2/20: p̂ = 0.5, se = √(0.25·0.1) = 0.158114, z = 0.8/0.158114 = 5.059644, p = 4.2004e-7.
        var big = SignificanceTests.TwoProportionZ(18, 20, 2, 20);
        big.Statistic.ShouldBe(5.059644, 1e-6);
        big.PValue.ShouldBe(4.2004e-7, 1e-10);
        var same = SignificanceTests.TwoProportionZ(7, 20, 7, 20);
        same.Statistic.ShouldBe(0);
        same.PValue.ShouldBe(1, 1e-7);
    }

    [Fact]
    public void Without_variance_or_without_recipients_there_is_no_evidence()
    {
        SignificanceTests.TwoProportionZ(0, 10, 0, 10).PValue.ShouldBe(1);
        SignificanceTests.TwoProportionZ(10, 10, 10, 10).PValue.ShouldBe(1);
        SignificanceTests.TwoProportionZ(0, 0, 5, 10).PValue.ShouldBe(1);
        Should.Throw<ArgumentOutOfRangeException>(() => SignificanceTests.TwoProportionZ(11, 10, 0, 10));
    }

    [Fact]
    public void The_normal_distribution_has_its_textbook_quantiles()
    {
        SignificanceTests.NormalCdf(0).ShouldBe(0.5, 1e-7);
        SignificanceTests.NormalCdf(1.96).ShouldBe(0.9750021, 1e-7);
        SignificanceTests.NormalCdf(-1.96).ShouldBe(0.0249979, 1e-7);
        SignificanceTests.Erfc(0).ShouldBe(1, 2e-7);
    }

    [Fact]
    public void Students_t_matches_its_closed_forms_and_tables()
    {
        // 1 degree of freedom is the Cauchy distribution: P(|T| ≥ 1) = 1/2.
        SignificanceTests.StudentTTwoSided(1, 1).ShouldBe(0.5, 1e-9);
        // 2 degrees of freedom: P(|T| ≥ t) = 1 − t/√(2 + t²); t = 2 → 1 − 2/√6 = 0.1835034.
        SignificanceTests.StudentTTwoSided(2, 2).ShouldBe(1 - 2 / Math.Sqrt(6), 1e-9);
        // The table's 97.5% point for 10 degrees of freedom is 2.228.
        SignificanceTests.StudentTTwoSided(2.228, 10).ShouldBe(0.05, 1e-4);
        SignificanceTests.StudentTTwoSided(-2.228, 10).ShouldBe(SignificanceTests.StudentTTwoSided(2.228, 10), 1e-12);
        // Infinite degrees of freedom is the normal distribution.
        SignificanceTests.StudentTTwoSided(1.96, double.PositiveInfinity).ShouldBe(0.0499958, 1e-6);
    }

    [Fact]
    public void The_special_functions_agree_with_known_values()
    {
        SignificanceTests.LogGamma(0.5).ShouldBe(Math.Log(Math.Sqrt(Math.PI)), 1e-12);
        SignificanceTests.LogGamma(5).ShouldBe(Math.Log(24), 1e-12);
        // I_x(a, 1) = x^a and I_x(1, b) = 1 − (1 − x)^b.
        SignificanceTests.RegularizedIncompleteBeta(3, 1, 0.4).ShouldBe(Math.Pow(0.4, 3), 1e-12);
        SignificanceTests.RegularizedIncompleteBeta(1, 4, 0.3).ShouldBe(1 - Math.Pow(0.7, 4), 1e-12);
        // Symmetry I_x(a, b) = 1 − I_{1−x}(b, a), across the side switch of the continued fraction.
        SignificanceTests.RegularizedIncompleteBeta(2.5, 3.5, 0.4).ShouldBe(1 - SignificanceTests.RegularizedIncompleteBeta(3.5, 2.5, 0.6), 1e-12);
        SignificanceTests.RegularizedIncompleteBeta(2.5, 3.5, 0.4).ShouldBe(0.4869042, 1e-7);
    }

    [Fact]
    public void Welchs_t_test_matches_the_hand_computed_value()
    {
        // Revenue per recipient: A = 12, 0, 0, 30, 5, 0, 7, 0; B = 0, 0, 3, 0, 0, 0, 1, 0, 2.
        // A: n 8, mean 6.75, variance 107.642857; B: n 9, mean 0.666667, variance 1.25.
        // se² = 107.642857/8 + 1.25/9 = 13.594246, t = 6.083333/3.687038 = 1.649924,
        // df = se⁴ / ((13.455357²/7) + (0.138889²/8)) = 7.144591, p = 0.1420768.
        double[] a = [12, 0, 0, 30, 5, 0, 7, 0];
        double[] b = [0, 0, 3, 0, 0, 0, 1, 0, 2];
        var (ma, va) = SignificanceTests.MeanAndVariance(a.Length, a.Sum(), a.Sum(x => x * x));
        var (mb, vb) = SignificanceTests.MeanAndVariance(b.Length, b.Sum(), b.Sum(x => x * x));
        ma.ShouldBe(6.75, 1e-12);
        va.ShouldBe(107.642857, 1e-6);
        vb.ShouldBe(1.25, 1e-12);
        var r = SignificanceTests.WelchT(a.Length, ma, va, b.Length, mb, vb);
        r.Statistic.ShouldBe(1.649924, 1e-6);
        r.DegreesOfFreedom.ShouldBe(7.144591, 1e-6);
        r.PValue.ShouldBe(0.1420768, 1e-6);
    }

    [Fact]
    public void Welchs_t_test_without_variance_is_certain_or_silent()
    {
        SignificanceTests.WelchT(5, 10, 0, 5, 0, 0).PValue.ShouldBe(0);
        SignificanceTests.WelchT(5, 3, 0, 5, 3, 0).PValue.ShouldBe(1);
        SignificanceTests.WelchT(1, 3, 0, 5, 1, 2).PValue.ShouldBe(1);
    }
}
