namespace Herald.Domain.Prediction;

/// <summary>
/// A logistic regression over standardised features, fitted by full-batch gradient descent with an
/// L2 penalty (no intercept penalty). Small and dependable for the tens of features and up to
/// millions of rows a daily predictive refresh sees; the weights are readable (which behaviour
/// raises the score) and the fit is deterministic.
/// </summary>
public sealed class LogisticModel
{
    public IReadOnlyList<string> Features { get; }
    public double Intercept { get; }
    /// <summary>Weights on the standardised features (comparable to each other).</summary>
    public IReadOnlyList<double> Weights { get; }
    public IReadOnlyList<double> Means { get; }
    public IReadOnlyList<double> Scales { get; }

    public LogisticModel(IReadOnlyList<string> features, double intercept, IReadOnlyList<double> weights, IReadOnlyList<double> means, IReadOnlyList<double> scales)
    {
        Features = features;
        Intercept = intercept;
        Weights = weights;
        Means = means;
        Scales = scales;
    }

    /// <summary>Fits <paramref name="rows"/> (one feature vector each) to 0/1 <paramref name="labels"/>.</summary>
    public static LogisticModel Fit(IReadOnlyList<string> features, IReadOnlyList<double[]> rows, IReadOnlyList<bool> labels,
        double l2 = 1e-3, int iterations = 400, double rate = 0.5)
    {
        var n = rows.Count;
        var k = features.Count;
        if (n == 0) throw new ArgumentException("No rows to fit.", nameof(rows));
        var means = new double[k];
        var scales = new double[k];
        for (var j = 0; j < k; j++)
        {
            double sum = 0, sq = 0;
            foreach (var r in rows) { sum += r[j]; sq += r[j] * r[j]; }
            means[j] = sum / n;
            var variance = Math.Max(0, sq / n - means[j] * means[j]);
            scales[j] = variance > 1e-12 ? Math.Sqrt(variance) : 1;
        }
        var x = new double[n][];
        for (var i = 0; i < n; i++)
        {
            x[i] = new double[k];
            for (var j = 0; j < k; j++) x[i][j] = (rows[i][j] - means[j]) / scales[j];
        }
        var positives = labels.Count(l => l);
        // Start at the base rate: the intercept alone is the best constant model.
        var b = Math.Log(Math.Max(positives, 0.5) / Math.Max(n - positives, 0.5));
        var w = new double[k];
        var grad = new double[k];
        for (var it = 0; it < iterations; it++)
        {
            Array.Clear(grad);
            double gb = 0;
            for (var i = 0; i < n; i++)
            {
                var z = b;
                var xi = x[i];
                for (var j = 0; j < k; j++) z += w[j] * xi[j];
                var err = Sigmoid(z) - (labels[i] ? 1 : 0);
                gb += err;
                for (var j = 0; j < k; j++) grad[j] += err * xi[j];
            }
            b -= rate * gb / n;
            for (var j = 0; j < k; j++) w[j] -= rate * (grad[j] / n + l2 * w[j]);
        }
        return new LogisticModel(features, b, w, means, scales);
    }

    /// <summary>The probability the model gives to a feature vector in raw (unstandardised) units.</summary>
    public double Score(ReadOnlySpan<double> row)
    {
        var z = Intercept;
        for (var j = 0; j < Weights.Count; j++) z += Weights[j] * (row[j] - Means[j]) / Scales[j];
        return Sigmoid(z);
    }

    private static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    /// <summary>
    /// Area under the ROC curve: the chance a random positive scores above a random negative (ties
    /// count half) — the Mann–Whitney statistic over ranks, exact, O(n log n). NaN without both classes.
    /// </summary>
    public static double Auc(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        var order = Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ToArray();
        double rankSumPositives = 0;
        long positives = 0;
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]]) j++;
            var rank = (i + j) / 2.0 + 1; // average rank of the tie group
            for (var t = i; t <= j; t++)
                if (labels[order[t]]) { rankSumPositives += rank; positives++; }
            i = j + 1;
        }
        var negatives = order.Length - positives;
        if (positives == 0 || negatives == 0) return double.NaN;
        return (rankSumPositives - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }
}
