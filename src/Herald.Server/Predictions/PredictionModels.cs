using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Predictions;

public static class PredictionKinds
{
    /// <summary>No event at all in the horizon after the cut-off.</summary>
    public const string Churn = "churn";
    /// <summary>A purchase event in the horizon.</summary>
    public const string Purchase = "purchase";
    /// <summary>Push turned off (push_disabled) or the app uninstalled in the horizon.</summary>
    public const string OptOut = "optout";
    public static readonly string[] All = [Churn, Purchase, OptOut];
}

/// <summary>A model as the API shows it: whether it could be trained, on how much, how well it ranks held-out people, and what drives it.</summary>
public sealed record PredictionView(
    string Model, string Status, string? Detail, long? TrainedAt, long? NextTrainingAt, int HorizonDays, int WindowDays,
    int? TrainingRows, int? HeldOutRows, double? BaseRate, double? Auc, IReadOnlyDictionary<string, double>? Weights, int? ScoredDevices);

public sealed record PredictionScore(string Model, string InstallationId, double Score, double Percentile);

/// <summary>What is stored beside the scores.</summary>
public sealed record StoredModel(
    string[] Features, double Intercept, double[] Weights, double[] Means, double[] Scales,
    int TrainingRows, int HeldOutRows, double BaseRate, double Auc, int ScoredDevices, long Cutoff);

/// <summary>Herald:Predictions.</summary>
public sealed class PredictionOptions
{
    public const string Section = "Herald:Predictions";
    /// <summary>The outcome is looked for this many days after the cut-off (and, when scoring, in the next as many days).</summary>
    [Range(1, 90)] public int HorizonDays { get; set; } = 14;
    /// <summary>Behaviour is summed over this many days before the cut-off.</summary>
    [Range(7, 365)] public int WindowDays { get; set; } = 28;
    /// <summary>Models are trained again this often.</summary>
    [Range(typeof(TimeSpan), "00:10:00", "30.00:00:00")] public TimeSpan RefreshEvery { get; set; } = TimeSpan.FromDays(1);
    /// <summary>Whether this node trains models when they are due (off on nodes that should only serve the API).</summary>
    public bool WorkerEnabled { get; set; } = true;
    /// <summary>How often a node looks for models due for training.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")] public TimeSpan Poll { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>At least this many people active before the cut-off, and this many of each outcome, to train.</summary>
    [Range(10, 1_000_000)] public int MinRows { get; set; } = 50;
    [Range(2, 1_000_000)] public int MinPerClass { get; set; } = 5;
}
