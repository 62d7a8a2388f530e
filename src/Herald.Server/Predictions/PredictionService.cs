using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.Json;
using Dapper;
using Herald.Domain.Analytics;
using Herald.Domain.Prediction;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Predictions;

/// <summary>
/// Predictive scores (R-SEG-5) from the app's own history. For a model, the cut-off is one horizon
/// ago: what each person did in the window before it (events, active days, recency, sessions,
/// purchases, revenue, push opens, variety, recent share) is the input, and whether the outcome
/// happened in the horizon after it is the label. A logistic regression is fitted on four fifths of
/// the people (split by a hash of who they are) and its AUC measured on the fifth it never saw. The
/// model then scores everyone on their behaviour in the window up to now. A person is a user
/// (all their devices share the score) or, before identification, a device.
/// </summary>
public sealed class PredictionService(Db db, IOptions<PredictionOptions> options, TimeProvider clock)
{
    public static readonly string[] Features =
        ["events", "active_days", "days_since_last", "sessions", "purchases", "revenue", "push_opens", "event_kinds", "recent_share"];
    private const long Day = 86_400_000;
    /// <summary>Who an event belongs to: −1 − the user ordinal for a user (all their devices), else the device ordinal.</summary>
    private const string Person = "CASE WHEN user_ordinal IS NULL THEN device_ordinal ELSE -1 - user_ordinal END";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ConcurrentDictionary<(long, string), (long TrainedAt, float[] Scores)> _scores = new();
    private PredictionOptions O => options.Value;

    private sealed class Row
    {
        public string Model { get; init; } = "";
        public long? TrainedAt { get; init; }
        public string Status { get; init; } = "";
        public string? Detail { get; init; }
        public string? Definition { get; init; }
    }

    public static void RequireKnown(string model, string field = "model")
    {
        if (!PredictionKinds.All.Contains(model))
            throw ProblemException.BadRequest($"{field} must be one of {string.Join(", ", PredictionKinds.All)}; got '{model}'.", field);
    }

    public async Task<IReadOnlyList<PredictionView>> ListAsync(long appId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = (await conn.QueryAsync<Row>(
            "SELECT model AS Model, trained_at AS TrainedAt, status AS Status, detail AS Detail, definition AS Definition FROM prediction_models WHERE app_id = @appId",
            new { appId })).ToDictionary(r => r.Model);
        return [.. PredictionKinds.All.Select(m => View(m, rows.GetValueOrDefault(m)))];
    }

    public async Task<PredictionView> GetAsync(long appId, string model, CancellationToken ct)
    {
        RequireKnown(model);
        return (await ListAsync(appId, ct)).Single(v => v.Model == model);
    }

    private PredictionView View(string model, Row? r)
    {
        if (r is null) return new(model, "off", $"Not trained yet: POST /api/v1/predictions/{model}/train (then it is trained again every {O.RefreshEvery.TotalHours:0} h).",
            null, null, O.HorizonDays, O.WindowDays, null, null, null, null, null, null);
        var d = r.Definition is null ? null : JsonSerializer.Deserialize<StoredModel>(r.Definition, Json);
        return new(model, r.Status, r.Detail, r.TrainedAt, r.TrainedAt + (long)O.RefreshEvery.TotalMilliseconds, O.HorizonDays, O.WindowDays,
            d?.TrainingRows, d?.HeldOutRows, d is null ? null : Math.Round(d.BaseRate, 4), d is null || double.IsNaN(d.Auc) ? null : Math.Round(d.Auc, 4),
            d?.Features.Zip(d.Weights).ToDictionary(x => x.First, x => Math.Round(x.Second, 4)), d?.ScoredDevices);
    }

    /// <summary>Trains now (the REST call); 422 naming what is missing when the history is too thin, 409 while another node trains it.</summary>
    public async Task<PredictionView> TrainNowAsync(long appId, string model, CancellationToken ct)
    {
        RequireKnown(model);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using (var conn = await db.OpenAsync(ct))
        {
            await conn.ExecuteAsync(
                "INSERT INTO prediction_models (app_id, model, status, created_at) VALUES (@appId, @model, 'pending', @now) ON CONFLICT (app_id, model) DO NOTHING",
                new { appId, model, now });
            if (!await ClaimAsync(conn, appId, model, now, dueOnly: false))
                throw new ProblemException(StatusCodes.Status409Conflict, "Training", $"The {model} model is being trained right now; read it again shortly.", "model");
        }
        var view = await TrainAsync(appId, model, ct);
        if (view.Status != "ok")
            throw ProblemException.Unprocessable($"The {model} model could not be trained: {view.Detail}", "model");
        return view;
    }

    /// <summary>One worker pass: trains the models whose last training is older than the refresh interval; returns how many.</summary>
    public async Task<int> RefreshDueAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        List<(long AppId, string Model)> due;
        await using (var conn = await db.OpenAsync(ct))
            due = [.. await conn.QueryAsync<(long, string)>(
                "SELECT app_id, model FROM prediction_models WHERE (trained_at IS NULL OR trained_at <= @before) AND (lease_until IS NULL OR lease_until < @now) LIMIT 20",
                new { before = now - (long)O.RefreshEvery.TotalMilliseconds, now })];
        var trained = 0;
        foreach (var (appId, model) in due)
        {
            await using (var conn = await db.OpenAsync(ct))
                if (!await ClaimAsync(conn, appId, model, now, dueOnly: true)) continue;
            await TrainAsync(appId, model, ct);
            trained++;
        }
        return trained;
    }

    private async Task<bool> ClaimAsync(System.Data.Common.DbConnection conn, long appId, string model, long now, bool dueOnly) =>
        await conn.ExecuteAsync(
            $"""
            UPDATE prediction_models SET lease_until = @lease
            WHERE app_id = @appId AND model = @model AND (lease_until IS NULL OR lease_until < @now){(dueOnly ? " AND (trained_at IS NULL OR trained_at <= @before)" : "")}
            """, new { appId, model, now, lease = now + 30 * 60_000, before = now - (long)O.RefreshEvery.TotalMilliseconds }) == 1;

    private async Task<PredictionView> TrainAsync(long appId, string model, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var horizon = O.HorizonDays * Day;
        var window = O.WindowDays * Day;
        var cutoff = now - horizon;
        string status, detail;
        StoredModel? stored = null;
        float[]? scores = null;
        await using (var conn = await db.OpenAsync(ct))
        {
            var before = await FeaturesAsync(conn, appId, cutoff - window, cutoff);
            var outcome = await OutcomeAsync(conn, appId, model, cutoff, now);
            var people = before.Keys.Order().ToList();
            var labels = people.Select(p => model == PredictionKinds.Churn ? !outcome.Contains(p) : outcome.Contains(p)).ToList();
            var positives = labels.Count(l => l);
            if (people.Count < O.MinRows || positives < O.MinPerClass || people.Count - positives < O.MinPerClass)
            {
                status = "insufficient";
                detail = $"{people.Count} people were active in the {O.WindowDays} days before the cut-off ({DateTimeOffset.FromUnixTimeMilliseconds(cutoff).UtcDateTime:yyyy-MM-dd}), "
                    + $"{positives} of them {Describe(model)} in the {O.HorizonDays} days after; at least {O.MinRows} people and {O.MinPerClass} with and without the outcome are needed.";
            }
            else
            {
                var heldOut = people.Select(p => Hash64.Mix(Hash64.Mix((ulong)appId) ^ (ulong)p) % 5 == 0).ToList();
                var trainRows = people.Where((_, i) => !heldOut[i]).Select(p => before[p]).ToList();
                var trainLabels = labels.Where((_, i) => !heldOut[i]).ToList();
                var fit = LogisticModel.Fit(Features, trainRows, trainLabels);
                var testScores = people.Where((_, i) => heldOut[i]).Select(p => fit.Score(before[p])).ToList();
                var auc = LogisticModel.Auc(testScores, labels.Where((_, i) => heldOut[i]).ToList());
                scores = await ScoreAsync(conn, appId, fit, await FeaturesAsync(conn, appId, now - window, now), window);
                stored = new StoredModel([.. Features], fit.Intercept, [.. fit.Weights], [.. fit.Means], [.. fit.Scales],
                    trainRows.Count, testScores.Count, (double)positives / people.Count, auc, scores.Count(float.IsFinite), cutoff);
                status = "ok";
                detail = double.IsNaN(auc) ? "The held-out fifth had only one outcome, so no AUC could be measured." : "";
            }
        }
        await using (var conn = await db.OpenAsync(CancellationToken.None))
            await conn.ExecuteAsync(
                $"""
                UPDATE prediction_models SET trained_at = @now, status = @status, detail = @detail, lease_until = NULL
                    {(stored is null ? "" : ", definition = @definition, scores = @scores")}
                WHERE app_id = @appId AND model = @model
                """, new
                {
                    appId, model, now, status, detail = detail.Length == 0 ? null : detail,
                    definition = stored is null ? null : JsonSerializer.Serialize(stored, Json),
                    scores = scores is null ? null : MemoryMarshal.AsBytes(scores.AsSpan()).ToArray(),
                });
        if (scores is not null) _scores[(appId, model)] = (now, scores);
        return await GetAsync(appId, model, ct);
    }

    private static string Describe(string model) => model switch
    {
        PredictionKinds.Churn => "went quiet (no event)",
        PredictionKinds.Purchase => "purchased",
        _ => "turned push off or uninstalled",
    };

    /// <summary>Each person's behaviour in [from, to): a person is -1 − user ordinal for a user, else the device ordinal.</summary>
    private async Task<Dictionary<long, double[]>> FeaturesAsync(System.Data.Common.DbConnection conn, long appId, long from, long to)
    {
        var rows = await conn.QueryAsync<(long Person, long Events, long Days, long Last, long Sessions, long Purchases, double Revenue, long Opens, long Kinds, long Recent)>(
            $"""
            SELECT {Person},
                   count(*), count(DISTINCT occurred_at / 86400000), max(occurred_at),
                   sum(CASE WHEN name IN ('app_open', 'web_open') THEN 1 ELSE 0 END),
                   sum(CASE WHEN name = 'purchase' THEN 1 ELSE 0 END),
                   sum(COALESCE(revenue, 0)),
                   sum(CASE WHEN name IN ('push_opened', 'push_clicked') THEN 1 ELSE 0 END),
                   count(DISTINCT name),
                   sum(CASE WHEN occurred_at >= @recent THEN 1 ELSE 0 END)
            FROM events
            WHERE app_id = @appId AND occurred_at >= @from AND occurred_at < @to AND (user_ordinal IS NOT NULL OR device_ordinal IS NOT NULL)
            GROUP BY {Person}
            """, new { appId, from, to, recent = to - 7 * Day });
        return rows.ToDictionary(r => r.Person, r => new[]
        {
            Math.Log(1 + r.Events), r.Days, (to - r.Last) / (double)Day, Math.Log(1 + r.Sessions), Math.Log(1 + r.Purchases),
            Math.Log(1 + Math.Max(0, r.Revenue)), Math.Log(1 + r.Opens), r.Kinds, r.Events == 0 ? 0 : (double)r.Recent / r.Events,
        });
    }

    /// <summary>The people in whom the outcome happened in [from, to).</summary>
    private static async Task<HashSet<long>> OutcomeAsync(System.Data.Common.DbConnection conn, long appId, string model, long from, long to)
    {
        var filter = model switch
        {
            PredictionKinds.Purchase => " AND name = 'purchase'",
            PredictionKinds.OptOut => " AND name = 'push_disabled'",
            _ => "",
        };
        var people = (await conn.QueryAsync<long>(
            $"""
            SELECT DISTINCT {Person} FROM events
            WHERE app_id = @appId AND occurred_at >= @from AND occurred_at < @to AND (user_ordinal IS NOT NULL OR device_ordinal IS NOT NULL){filter}
            """, new { appId, from, to })).ToHashSet();
        if (model == PredictionKinds.OptOut)
            foreach (var p in await conn.QueryAsync<long>(
                         "SELECT CASE WHEN user_ordinal IS NULL THEN ordinal ELSE -1 - user_ordinal END FROM devices WHERE app_id = @appId AND uninstalled_at >= @from AND uninstalled_at < @to",
                         new { appId, from, to }))
                people.Add(p);
        return people;
    }

    /// <summary>Every installed device's score: its person's behaviour up to now (none in the window: quiet for the whole window).</summary>
    private static async Task<float[]> ScoreAsync(System.Data.Common.DbConnection conn, long appId, LogisticModel fit, Dictionary<long, double[]> now, long window)
    {
        var devices = (await conn.QueryAsync<(int Ordinal, int? User)>(
            "SELECT ordinal, user_ordinal FROM devices WHERE app_id = @appId AND uninstalled_at IS NULL", new { appId })).ToList();
        var scores = new float[devices.Count == 0 ? 0 : devices.Max(d => d.Ordinal) + 1];
        Array.Fill(scores, float.NaN);
        var quiet = new double[Features.Length];
        quiet[2] = window / (double)Day;
        foreach (var (ordinal, user) in devices)
            scores[ordinal] = (float)fit.Score(now.GetValueOrDefault(user is { } u ? -1L - u : ordinal, quiet));
        return scores;
    }

    private async Task<float[]?> ScoresAsync(long appId, string model, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var r = await conn.QueryFirstOrDefaultAsync<(long? TrainedAt, byte[]? Scores)>(
            "SELECT trained_at, scores FROM prediction_models WHERE app_id = @appId AND model = @model AND status = 'ok'", new { appId, model });
        if (r.Scores is null || r.TrainedAt is null) return null;
        if (_scores.TryGetValue((appId, model), out var hit) && hit.TrainedAt == r.TrainedAt) return hit.Scores;
        var scores = MemoryMarshal.Cast<byte, float>(r.Scores).ToArray();
        _scores[(appId, model)] = (r.TrainedAt.Value, scores);
        return scores;
    }

    /// <summary>Whether a model has scores to target with (segment rules naming it are checked when saved).</summary>
    public async Task<bool> HasScoresAsync(long appId, string model, CancellationToken ct) => await ScoresAsync(appId, model, ct) is not null;

    /// <summary>
    /// Devices of <paramref name="universe"/> in the top <paramref name="topPercent"/>% by score (ties at
    /// the edge included), and/or with a score of at least <paramref name="minScore"/>.
    /// </summary>
    public async Task<RoaringBitmap> MembersAsync(long appId, string model, double? topPercent, double? minScore, RoaringBitmap universe, CancellationToken ct)
    {
        var scores = await ScoresAsync(appId, model, ct);
        if (scores is null) return new RoaringBitmap();
        var scored = universe.Where(d => d < scores.Length && float.IsFinite(scores[d])).ToList();
        var threshold = minScore ?? double.NegativeInfinity;
        if (topPercent is { } top && scored.Count > 0)
        {
            var sorted = scored.Select(d => scores[d]).OrderDescending().ToArray();
            var take = Math.Max(1, (int)Math.Ceiling(sorted.Length * top / 100));
            threshold = Math.Max(threshold, sorted[Math.Min(take, sorted.Length) - 1]);
        }
        return RoaringBitmap.FromSorted([.. scored.Where(d => scores[d] >= threshold)]);
    }

    /// <summary>One device's score and where it stands among the app's scored devices.</summary>
    public async Task<PredictionScore> ScoreOfAsync(long appId, string model, string installationId, CancellationToken ct)
    {
        RequireKnown(model);
        var scores = await ScoresAsync(appId, model, ct) ?? throw ProblemException.NotFound($"Scores of the {model} model (train it first)");
        int? ordinal;
        await using (var conn = await db.OpenAsync(ct))
            ordinal = await conn.QueryFirstOrDefaultAsync<int?>("SELECT ordinal FROM devices WHERE app_id = @appId AND installation_id = @installationId", new { appId, installationId });
        if (ordinal is not { } o || o >= scores.Length || !float.IsFinite(scores[o]))
            throw ProblemException.NotFound($"A {model} score for installation '{(installationId.Length > 64 ? installationId[..64] + "…" : installationId)}'");
        var all = scores.Where(float.IsFinite).ToArray();
        var below = all.Count(s => s < scores[o]);
        return new PredictionScore(model, installationId, Math.Round(scores[o], 6), Math.Round(100.0 * below / all.Length, 2));
    }
}
