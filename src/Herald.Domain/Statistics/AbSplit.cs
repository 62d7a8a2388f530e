using Herald.Domain.Analytics;

namespace Herald.Domain.Statistics;

/// <summary>
/// Splits an audience for an A/B test (R-MSG-7), deterministically: recipients are ordered by a hash
/// of (campaign, recipient), the first <c>round(testShare × n)</c> of that order form the test cohort
/// and are dealt to the variants in turn (so variant sizes differ by at most one), the rest wait for
/// the winner. The same campaign and audience always give the same assignment, whatever order the
/// recipients come in; another campaign shuffles differently.
/// </summary>
public static class AbSplit
{
    /// <summary>Marks a recipient held back for the winner.</summary>
    public const int Held = -1;

    public static Dictionary<int, int> Assign(long campaignId, IEnumerable<int> recipients, int variants, double testShare)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(variants, 1);
        if (testShare is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(testShare), testShare, "testShare must be within 0..1.");
        var seed = Hash64.Mix((ulong)campaignId + 0x9E3779B97F4A7C15UL);
        var ordered = recipients.Distinct().Select(r => (Key: Hash64.Mix(seed ^ (uint)r), Recipient: r))
            .OrderBy(x => x.Key).ThenBy(x => x.Recipient).ToList();
        var test = (int)Math.Round(testShare * ordered.Count, MidpointRounding.AwayFromZero);
        // Every variant gets at least one recipient when the audience allows it.
        if (testShare > 0) test = Math.Min(ordered.Count, Math.Max(test, variants));
        var result = new Dictionary<int, int>(ordered.Count);
        for (var rank = 0; rank < ordered.Count; rank++)
            result[ordered[rank].Recipient] = rank < test ? rank % variants : Held;
        return result;
    }
}
