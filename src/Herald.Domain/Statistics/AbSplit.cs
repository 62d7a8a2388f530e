using Herald.Domain.Analytics;

namespace Herald.Domain.Statistics;

/// <summary>
/// Splits an audience for an A/B test (R-MSG-7), deterministically: recipients are ordered by a hash
/// of (campaign, recipient), the first <c>round(testShare × n)</c> of that order form the test cohort
/// and are dealt to the variants in turn (so variant sizes differ by at most one), the rest wait for
/// the winner. The same campaign and audience always give the same assignment, whatever order the
/// recipients come in; another campaign shuffles differently. An optional control group, the last
/// <c>round(controlShare × n)</c> of the order, receives nothing: taken from the end, it leaves the
/// test cohort exactly as it would be without one.
/// </summary>
public static class AbSplit
{
    /// <summary>Marks a recipient held back for the winner.</summary>
    public const int Held = -1;

    /// <summary>Marks a recipient of the control group: sent nothing, watched for conversions.</summary>
    public const int Control = -2;

    public static Dictionary<int, int> Assign(long campaignId, IEnumerable<int> recipients, int variants, double testShare, double controlShare = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(variants, 1);
        if (testShare is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(testShare), testShare, "testShare must be within 0..1.");
        if (controlShare < 0 || testShare + controlShare > 1)
            throw new ArgumentOutOfRangeException(nameof(controlShare), controlShare, "controlShare must be at least 0 and at most 1 - testShare.");
        var seed = Hash64.Mix((ulong)campaignId + 0x9E3779B97F4A7C15UL);
        var ordered = recipients.Distinct().Select(r => (Key: Hash64.Mix(seed ^ (uint)r), Recipient: r))
            .OrderBy(x => x.Key).ThenBy(x => x.Recipient).ToList();
        var test = (int)Math.Round(testShare * ordered.Count, MidpointRounding.AwayFromZero);
        // Every variant gets at least one recipient when the audience allows it.
        if (testShare > 0) test = Math.Min(ordered.Count, Math.Max(test, variants));
        var control = (int)Math.Round(controlShare * ordered.Count, MidpointRounding.AwayFromZero);
        if (controlShare > 0) control = Math.Max(control, 1);
        control = Math.Min(control, ordered.Count - test);
        var result = new Dictionary<int, int>(ordered.Count);
        for (var rank = 0; rank < ordered.Count; rank++)
            result[ordered[rank].Recipient] = rank < test ? rank % variants : rank >= ordered.Count - control ? Control : Held;
        return result;
    }
}
