using Herald.Domain.Prediction;

namespace Herald.Domain.Tests;

public class LogisticModelTests
{
    [Fact]
    public void Auc_matches_counting_every_positive_negative_pair()
    {
        var rng = new Random(3);
        for (var round = 0; round < 50; round++)
        {
            var n = rng.Next(2, 60);
            // Scores from a few values, so ties are common.
            var scores = Enumerable.Range(0, n).Select(_ => (double)rng.Next(0, 6)).ToList();
            var labels = Enumerable.Range(0, n).Select(_ => rng.Next(2) == 1).ToList();
            double wins = 0, pairs = 0;
            for (var i = 0; i < n; i++)
                for (var j = 0; j < n; j++)
                    if (labels[i] && !labels[j])
                    {
                        pairs++;
                        wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
                    }
            var auc = LogisticModel.Auc(scores, labels);
            if (pairs == 0) double.IsNaN(auc).ShouldBeTrue();
            else auc.ShouldBe(wins / pairs, 1e-12);
        }
    }

    [Fact]
    public void A_fit_recovers_which_feature_drives_the_outcome_and_ranks_held_out_rows_well()
    {
        var rng = new Random(5);
        // Churn rises with days since the last visit and falls with sessions; the third feature is noise.
        (double[] Row, bool Label) Draw()
        {
            var idle = rng.NextDouble() * 30;
            var sessions = rng.NextDouble() * 20;
            var noise = rng.NextDouble() * 100;
            var z = -1 + 0.25 * idle - 0.3 * sessions;
            return ([idle, sessions, noise], rng.NextDouble() < 1 / (1 + Math.Exp(-z)));
        }
        var train = Enumerable.Range(0, 4000).Select(_ => Draw()).ToList();
        var test = Enumerable.Range(0, 1000).Select(_ => Draw()).ToList();
        var model = LogisticModel.Fit(["idle_days", "sessions", "noise"], train.Select(t => t.Row).ToList(), train.Select(t => t.Label).ToList());
        model.Weights[0].ShouldBeGreaterThan(1);
        model.Weights[1].ShouldBeLessThan(-1);
        Math.Abs(model.Weights[2]).ShouldBeLessThan(0.2);
        var auc = LogisticModel.Auc(test.Select(t => model.Score(t.Row)).ToList(), test.Select(t => t.Label).ToList());
        auc.ShouldBeGreaterThan(0.85);
        // On rows with no signal, the ranking is a coin flip.
        var random = Enumerable.Range(0, 2000).Select(_ => rng.NextDouble()).ToList();
        LogisticModel.Auc(random, random.Select(_ => rng.Next(2) == 1).ToList()).ShouldBeInRange(0.45, 0.55);
    }

    [Fact]
    public void A_constant_feature_and_a_single_class_fit_without_blowing_up()
    {
        var rows = Enumerable.Range(0, 100).Select(i => new double[] { 7, i }).ToList();
        var model = LogisticModel.Fit(["constant", "i"], rows, rows.Select(_ => false).ToList());
        var p = model.Score([7, 50]);
        double.IsFinite(p).ShouldBeTrue();
        p.ShouldBeLessThan(0.05);
    }
}
