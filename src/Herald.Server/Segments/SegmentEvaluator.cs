using Herald.Domain.Analytics;
using Herald.Server.Analytics;

namespace Herald.Server.Segments;

/// <summary>
/// Rule tree → device bitmap. The universe is the app's installed devices (uninstalled ones are in
/// no segment); NOT is universe minus the child. Profile attributes are the user's, so every device
/// of a matching user matches; behaviour is per device (the device did the event).
/// </summary>
public sealed class SegmentEvaluator(RollupStore rollups, EventIndexes indexes, ProfileSnapshots snapshots, Geofences.GeofenceService geofences,
    Predictions.PredictionService predictions, TimeProvider clock)
{
    /// <summary>Loads the rules of a referenced segment; null when it does not exist.</summary>
    public delegate Task<Rule?> RuleLoader(long segmentId, CancellationToken ct);

    public async Task<RoaringBitmap> EvaluateAsync(long appId, Rule rule, RuleLoader load, CancellationToken ct)
    {
        var days = await rollups.EnsureCurrentAsync(appId, ct);
        var snapshot = await snapshots.GetAsync(appId, ct);
        var ctx = new Context(appId, days, snapshot, load, clock.GetUtcNow().ToUnixTimeMilliseconds(), []);
        return await EvalAsync(rule, ctx, ct);
    }

    private sealed record Context(long AppId, LocalDays Days, ProfileSnapshot Snapshot, RuleLoader Load, long Now, HashSet<long> Visiting);

    private async Task<RoaringBitmap> EvalAsync(Rule rule, Context ctx, CancellationToken ct)
    {
        var s = ctx.Snapshot;
        switch (rule)
        {
            case AndRule a:
            {
                RoaringBitmap? acc = null;
                foreach (var c in a.Children)
                {
                    var x = await EvalAsync(c, ctx, ct);
                    if (acc is null) acc = x.Clone(); else acc.AndWith(x);
                    if (acc.IsEmpty) break;
                }
                return acc ?? new RoaringBitmap();
            }
            case OrRule o:
            {
                var parts = new List<RoaringBitmap>();
                foreach (var c in o.Children) parts.Add(await EvalAsync(c, ctx, ct));
                return RoaringBitmap.OrMany(parts);
            }
            case NotRule n:
                return RoaringBitmap.AndNot(s.Universe, await EvalAsync(n.Child, ctx, ct));
            case AttributeRule ar:
                return s.Where("a\u0001" + ar.Condition.Key, i => ar.Condition.Matches(s.Attribute(ar.Condition.Attribute, i), ctx.Now));
            case DeviceRule dr:
                return s.Where("d\u0001" + dr.Condition.Key, i => dr.Condition.Matches(s.Fact(dr.Condition.Attribute, i), ctx.Now));
            case SegmentRefRule sr:
            {
                if (!ctx.Visiting.Add(sr.SegmentId)) return new RoaringBitmap(); // cycles are refused on save; never loop
                var inner = await ctx.Load(sr.SegmentId, ct);
                var result = inner is null ? new RoaringBitmap() : await EvalAsync(inner, ctx, ct);
                ctx.Visiting.Remove(sr.SegmentId);
                return result;
            }
            case EventRule er:
                return await EventAsync(er, ctx, ct);
            case GeofenceRule gr:
                return RoaringBitmap.And(await geofences.InsideAsync(ctx.AppId, gr.FenceId, gr.GroupId, ct), s.Universe);
            case PredictedRule pr:
                return await predictions.MembersAsync(ctx.AppId, pr.Model, pr.TopPercent, pr.MinScore, s.Universe, ct);
            case NearRule nr:
                return RoaringBitmap.And(await geofences.NearAsync(ctx.AppId, nr.Center, nr.Radius, ct), s.Universe);
            default:
                throw new InvalidOperationException($"Unknown rule {rule.GetType().Name}");
        }
    }

    private async Task<RoaringBitmap> EventAsync(EventRule r, Context ctx, CancellationToken ct)
    {
        var today = ctx.Days.Today(clock);
        var (first, last) = r.WithinLastDays is { } n ? (today - n + 1, today)
            : (r.From is { } f ? LocalDays.DayOf(f) : today - 3660 * 2, r.To is { } t ? LocalDays.DayOf(t) : today + 1);
        RoaringBitmap did;
        if (r.Where.Count == 0 && r.AtLeast is null or 1 && r.AtMost is null)
        {
            var rows = await rollups.RangeAsync(ctx.AppId, r.Event, first, last, ct);
            did = rows.Count == 0 ? new RoaringBitmap() : RoaringBitmap.OrMany(rows.Select(x => x.Devices));
        }
        else
        {
            var index = r.Where.Count == 0
                ? await indexes.GetAsync(ctx.AppId, r.Event, byUser: false, ct)
                : await indexes.GetFilteredAsync(ctx.AppId, r.Event, byUser: false, r.Where, ctx.Now, ct);
            long from = ctx.Days.StartOf(first), to = ctx.Days.StartOf(last + 1);
            int min = r.AtLeast ?? 1, max = r.AtMost ?? int.MaxValue;
            var hits = new List<uint>();
            var ords = index.Ordinals;
            var offsets = index.Offsets;
            var ts = index.Timestamps;
            for (var i = 0; i < ords.Length; i++)
            {
                var times = ts[offsets[i]..offsets[i + 1]];
                var lo = LowerBound(times, from);
                var count = LowerBound(times, to) - lo;
                if (count >= min && count <= max) hits.Add(ords[i]);
            }
            did = RoaringBitmap.FromSorted(hits.ToArray());
        }
        return r.Did ? RoaringBitmap.And(did, ctx.Snapshot.Universe) : RoaringBitmap.AndNot(ctx.Snapshot.Universe, did);
    }

    private static int LowerBound(ReadOnlySpan<long> sorted, long value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] < value) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
