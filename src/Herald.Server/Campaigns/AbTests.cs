using Herald.Domain.Statistics;
using Herald.Server.Infrastructure;

namespace Herald.Server.Campaigns;

/// <summary>One content variant: the fields it sets replace the campaign's base content.</summary>
public sealed record AbVariantDefinition
{
    /// <summary>Shown in the report; "A", "B", … by position when left out.</summary>
    public string? Name { get; init; }
    public ContentDefinition Content { get; init; } = new();
}

/// <summary>
/// An A/B test (R-MSG-7): <see cref="TestShare"/> of the audience is split evenly across the
/// variants; after <see cref="DurationMinutes"/> the winner by <see cref="Metric"/> is picked with a
/// significance check at level <see cref="Alpha"/> and sent to the rest. When no variant is
/// significantly better, <see cref="NoWinner"/> decides.
/// </summary>
public sealed record AbTestDefinition
{
    public List<AbVariantDefinition> Variants { get; init; } = [];
    public double TestShare { get; init; } = 0.2;
    /// <summary>
    /// Share of the audience in a control group that is sent nothing (0 = none, at most 0.5): its
    /// purchases after the send time, against the test cohort's, give each variant's lift.
    /// </summary>
    public double ControlShare { get; init; }
    /// <summary>open_rate | conversion_rate | revenue_per_recipient.</summary>
    public string Metric { get; init; } = AbTests.OpenRate;
    /// <summary>How long after the last test message is due the winner is picked.</summary>
    public int DurationMinutes { get; init; } = 240;
    public double Alpha { get; init; } = 0.05;
    /// <summary>keep_a (send variant A) | best_observed (send the best variant even though the difference is not significant).</summary>
    public string NoWinner { get; init; } = AbTests.KeepA;
}

/// <summary>Checks, names and content of A/B variants.</summary>
public static class AbTests
{
    public const string OpenRate = "open_rate";
    public const string ConversionRate = "conversion_rate";
    public const string RevenuePerRecipient = "revenue_per_recipient";
    public const string KeepA = "keep_a";
    public const string BestObserved = "best_observed";
    public const int MinVariants = 2, MaxVariants = 5;
    public const int MaxDurationMinutes = 30 * 24 * 60;
    public const double MaxControlShare = 0.5;
    /// <summary>The skip reason of control-group rows in the ledger and the report.</summary>
    public const string ControlGroup = "control group";
    private static readonly string[] Metrics = [OpenRate, ConversionRate, RevenuePerRecipient];
    private static readonly string[] Fallbacks = [KeepA, BestObserved];

    public static string VariantName(AbTestDefinition ab, int index) =>
        ab.Variants[index].Name is { Length: > 0 } name ? name : ((char)('A' + index)).ToString();

    public static AbMetric ParseMetric(string metric) => metric switch
    {
        ConversionRate => AbMetric.ConversionRate,
        RevenuePerRecipient => AbMetric.RevenuePerRecipient,
        _ => AbMetric.OpenRate,
    };

    public static AbFallback ParseFallback(string rule) => rule == BestObserved ? AbFallback.BestObserved : AbFallback.KeepA;

    /// <summary>
    /// The campaign as one variant sends it: the variant's fields over the base content. Base
    /// translations are kept only when the variant changes no text (otherwise a translated device
    /// would see the base text instead of the variant's); a variant that changes texts brings its own
    /// <c>locales</c>. Variant -1 (held for the winner) and campaigns without a test send the base content.
    /// </summary>
    public static CampaignDefinition ForVariant(CampaignDefinition d, int variant)
    {
        if (d.AbTest is not { } ab || variant < 0 || variant >= ab.Variants.Count) return d;
        var b = d.Content;
        var v = ab.Variants[variant].Content;
        var changesText = v.Title is not null || v.Body is not null || v.Subject is not null || v.Html is not null || v.Text is not null;
        return d with
        {
            Content = new ContentDefinition
            {
                Title = v.Title ?? b.Title, Body = v.Body ?? b.Body, ImageUrl = v.ImageUrl ?? b.ImageUrl, Url = v.Url ?? b.Url,
                Sound = v.Sound ?? b.Sound, Badge = v.Badge ?? b.Badge, Data = v.Data ?? b.Data, Buttons = v.Buttons ?? b.Buttons,
                TtlSeconds = v.TtlSeconds ?? b.TtlSeconds, CollapseKey = v.CollapseKey ?? b.CollapseKey,
                Subject = v.Subject ?? b.Subject, Html = v.Html ?? b.Html, Text = v.Text ?? b.Text,
                Locales = v.Locales ?? (changesText ? null : b.Locales),
                CatalogItem = b.CatalogItem,
            },
        };
    }

    /// <summary>
    /// The test's own limits, then each variant as it will be sent — through the same checks as the
    /// base content (channel rules, buttons, templates compiled), with errors naming the variant's
    /// field, e.g. <c>abTest.variants[1].content.title</c>.
    /// </summary>
    public static void Validate(CampaignDefinition d)
    {
        if (d.AbTest is not { } ab) return;
        if (d.Urgent) throw ProblemException.BadRequest("An urgent campaign cannot run an A/B test: it goes to everyone at once.", "abTest");
        var variants = ab.Variants ?? [];
        if (variants.Count is < MinVariants or > MaxVariants)
            throw ProblemException.BadRequest($"abTest.variants: {MinVariants}–{MaxVariants} variants; got {variants.Count}.", "abTest.variants", MaxVariants);
        if (!(ab.TestShare >= 0.01 && ab.TestShare <= 0.99))
            throw ProblemException.BadRequest($"abTest.testShare must be 0.01–0.99 (the share of the audience in the test); got {ab.TestShare}.", "abTest.testShare", 0.99);
        if (!(ab.ControlShare >= 0 && ab.ControlShare <= MaxControlShare))
            throw ProblemException.BadRequest($"abTest.controlShare must be 0 (no control group) to {MaxControlShare}; got {ab.ControlShare}.", "abTest.controlShare", MaxControlShare);
        if (ab.TestShare + ab.ControlShare > 1)
            throw ProblemException.BadRequest($"abTest.testShare + abTest.controlShare must be at most 1; got {ab.TestShare + ab.ControlShare}.", "abTest.controlShare", 1);
        if (!Metrics.Contains(ab.Metric))
            throw ProblemException.BadRequest($"abTest.metric must be one of {string.Join(", ", Metrics)}; got '{ab.Metric}'.", "abTest.metric");
        if (ab.DurationMinutes is < 1 or > MaxDurationMinutes)
            throw ProblemException.BadRequest($"abTest.durationMinutes must be 1–{MaxDurationMinutes} (30 days); got {ab.DurationMinutes}.", "abTest.durationMinutes", MaxDurationMinutes);
        if (!(ab.Alpha > 0 && ab.Alpha <= 0.2))
            throw ProblemException.BadRequest($"abTest.alpha (significance level) must be above 0 and at most 0.2; got {ab.Alpha}.", "abTest.alpha", 0.2);
        if (!Fallbacks.Contains(ab.NoWinner))
            throw ProblemException.BadRequest($"abTest.noWinner must be one of {string.Join(", ", Fallbacks)}; got '{ab.NoWinner}'.", "abTest.noWinner");
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < variants.Count; i++)
        {
            if (variants[i]?.Content is null) throw ProblemException.BadRequest($"abTest.variants[{i}].content is required.", $"abTest.variants[{i}].content");
            var name = VariantName(ab, i);
            if (name.Length > 64)
                throw ProblemException.BadRequest($"abTest.variants[{i}].name is longer than 64 characters.", $"abTest.variants[{i}].name", 64);
            if (!names.Add(name))
                throw ProblemException.BadRequest($"abTest.variants[{i}].name '{name}' is used twice.", $"abTest.variants[{i}].name");
            try { CampaignValidator.Validate(ForVariant(d, i) with { AbTest = null }); }
            catch (ProblemException p) when (p.Field is { } field && field.StartsWith("content", StringComparison.Ordinal))
            {
                var path = $"abTest.variants[{i}].{field}";
                var renamed = new ProblemException(p.Status, p.Title, $"{path}: {p.Message}", path, p.Limit);
                foreach (var (k, v) in p.Extensions) renamed.Extensions[k] = v;
                throw renamed;
            }
        }
    }
}
