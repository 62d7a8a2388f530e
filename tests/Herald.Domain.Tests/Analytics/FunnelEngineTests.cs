using Herald.Domain.Analytics;

namespace Herald.Domain.Tests.Analytics;

public class FunnelEngineTests
{
    // ----- brute-force reference over plain lists -----

    private sealed record Occurrence(int Event, long Time);

    // Per ordinal: all events (event type, time). Steps are event types; exclusion is an event type or -1.
    private static int Reference(List<Occurrence> events, int[] steps, long window, FunnelOrder order, int exclusion)
    {
        var occurrences = events.Where(e => steps.Contains(e.Event)).ToList();
        var exclusions = events.Where(e => e.Event == exclusion).Select(e => e.Time).ToList();
        // Strict: the merged timeline of the funnel's distinct step events, by (time, first step position).
        var timeline = occurrences.OrderBy(o => o.Time).ThenBy(o => Array.IndexOf(steps, o.Event)).ToList();

        bool Valid(List<Occurrence> chosen)
        {
            long min = chosen.Min(c => c.Time), max = chosen.Max(c => c.Time);
            if (max - min > window) return false;
            return !exclusions.Any(x => min < x && x <= max);
        }

        int best = 0;
        var chosen = new List<Occurrence>();
        void Search(int step)
        {
            if (chosen.Count > 0)
            {
                if (!Valid(chosen)) return;
                best = Math.Max(best, chosen.Count);
            }
            if (step == steps.Length) return;
            foreach (var o in occurrences)
            {
                if (o.Event != steps[step] || chosen.Any(c => ReferenceEquals(c, o))) continue;
                if (order != FunnelOrder.AnyOrder && chosen.Count > 0 && o.Time <= chosen[^1].Time) continue;
                if (order == FunnelOrder.Strict && chosen.Count > 0 && timeline.FindIndex(t => ReferenceEquals(t, o)) != timeline.FindIndex(t => ReferenceEquals(t, chosen[^1])) + 1) continue;
                chosen.Add(o);
                Search(step + 1);
                chosen.RemoveAt(chosen.Count - 1);
            }
        }
        Search(0);
        return best;
    }

    private sealed class Data
    {
        public readonly Dictionary<uint, List<Occurrence>> ByOrdinal = [];
        public EventIndex[] Indexes = [];
    }

    private static Data Generate(Random rng, int eventTypes, int ordinals, long timeRange, int maxPerEvent, bool spreadOrdinals)
    {
        var data = new Data();
        var pairs = Enumerable.Range(0, eventTypes).Select(_ => (O: new List<uint>(), T: new List<long>())).ToArray();
        for (int i = 0; i < ordinals; i++)
        {
            uint ordinal = spreadOrdinals ? (uint)rng.NextInt64(0, 1L << 32) : (uint)rng.Next(0, ordinals * 3);
            if (data.ByOrdinal.ContainsKey(ordinal)) continue;
            var list = data.ByOrdinal[ordinal] = [];
            for (int e = 0; e < eventTypes; e++)
            {
                int count = rng.Next(0, maxPerEvent + 1);
                for (int k = 0; k < count; k++)
                {
                    long t = 1_700_000_000_000L + rng.NextInt64(0, timeRange);
                    list.Add(new Occurrence(e, t));
                    pairs[e].O.Add(ordinal);
                    pairs[e].T.Add(t);
                }
            }
        }
        data.Indexes = pairs.Select(p => EventIndex.Build([.. p.O], [.. p.T])).ToArray();
        return data;
    }

    private static Dictionary<uint, int> Furthest(FunnelResult result)
    {
        var map = new Dictionary<uint, int>();
        for (int k = 0; k < result.StepCount; k++)
            foreach (uint o in result.FurthestStepOrdinals(k)) map.Add(o, k + 1);
        return map;
    }

    [Theory]
    [InlineData(FunnelOrder.Sequential, false)]
    [InlineData(FunnelOrder.Sequential, true)]
    [InlineData(FunnelOrder.Strict, false)]
    [InlineData(FunnelOrder.Strict, true)]
    [InlineData(FunnelOrder.AnyOrder, false)]
    [InlineData(FunnelOrder.AnyOrder, true)]
    public void Matches_the_brute_force_reference_on_random_data(FunnelOrder order, bool withExclusion)
    {
        for (int seed = 0; seed < 150; seed++)
        {
            var rng = new Random(seed * 31 + (int)order * 7 + (withExclusion ? 1 : 0));
            int eventTypes = rng.Next(2, 6);
            long timeRange = rng.Next(3) == 0 ? 20 : 5000; // small ranges force ties
            var data = Generate(rng, eventTypes, rng.Next(1, 80), timeRange, rng.Next(1, 5), rng.Next(4) == 0);
            int stepCount = rng.Next(2, 6);
            var steps = Enumerable.Range(0, stepCount).Select(_ => rng.Next(0, eventTypes)).ToArray();
            int exclusion = withExclusion ? rng.Next(0, eventTypes) : -1;
            long window = rng.Next(4) switch { 0 => 0, 1 => long.MaxValue, _ => rng.NextInt64(0, timeRange) };

            var result = FunnelEngine.Compute(
                steps.Select(s => data.Indexes[s]).ToArray(), window, order,
                exclusion >= 0 ? data.Indexes[exclusion] : null,
                degreeOfParallelism: rng.Next(1, 3));

            var actual = Furthest(result);
            var expected = new Dictionary<uint, int>();
            foreach (var (ordinal, events) in data.ByOrdinal)
            {
                if (!events.Any(e => e.Event == steps[0])) continue;
                expected[ordinal] = Reference(events, steps, window, order, exclusion);
            }
            actual.ShouldBe(expected, ignoreOrder: true, $"seed {seed}, steps [{string.Join(",", steps)}], window {window}, exclusion {exclusion}");

            for (int k = 0; k < stepCount; k++)
            {
                var reached = expected.Where(p => p.Value >= k + 1).Select(p => p.Key).Order().ToArray();
                result.ReachedCounts[k].ShouldBe(reached.Length);
                result.ReachedStep(k).ToArray().ShouldBe(reached);
                result.DroppedAfter(k).ToArray().ShouldBe(expected.Where(p => p.Value == k + 1).Select(p => p.Key).Order().ToArray());
            }
        }
    }

    [Fact]
    public void Population_limits_the_candidates()
    {
        var rng = new Random(77);
        var data = Generate(rng, 3, 300, 10_000, 3, false);
        var population = RoaringBitmap.FromValues(data.ByOrdinal.Keys.Where(_ => rng.Next(2) == 0));
        var steps = new[] { data.Indexes[0], data.Indexes[1], data.Indexes[2] };
        var all = FunnelEngine.Compute(steps, 3000);
        var some = FunnelEngine.Compute(steps, 3000, population: population);
        for (int k = 0; k < 3; k++)
            some.ReachedStep(k).ShouldBe(all.ReachedStep(k) & population);
    }

    [Fact]
    public void Parallel_walk_gives_the_same_result_as_a_single_walk()
    {
        var rng = new Random(5);
        var data = Generate(rng, 4, 40_000, 1_000_000, 3, false);
        var steps = new[] { data.Indexes[0], data.Indexes[1], data.Indexes[2], data.Indexes[1] };
        foreach (var order in Enum.GetValues<FunnelOrder>())
        {
            var one = FunnelEngine.Compute(steps, 300_000, order, data.Indexes[3]);
            var two = FunnelEngine.Compute(steps, 300_000, order, data.Indexes[3], degreeOfParallelism: 2);
            two.ReachedCounts.ShouldBe(one.ReachedCounts);
            for (int k = 0; k < steps.Length; k++) two.DroppedAfter(k).ShouldBe(one.DroppedAfter(k));
            one.Candidates.ShouldBe(data.Indexes[0].OrdinalCount);
        }
    }

    private static EventIndex Index(params (uint Ordinal, long Time)[] pairs) =>
        EventIndex.Build(pairs.Select(p => p.Ordinal).ToArray(), pairs.Select(p => p.Time).ToArray());

    [Fact]
    public void Documented_examples_hold()
    {
        // Ordinal 1: A@10, B@20, A@30. Ordinal 2: A@10, C@15, B@20. Ordinal 3: A@10, X@15, B@20.
        var a = Index((1, 10), (1, 30), (2, 10), (3, 10));
        var b = Index((1, 20), (2, 20), (3, 20));
        var c = Index((2, 15));
        var x = Index((3, 15));

        // A → B → A reuses the event but needs a later occurrence.
        FunnelEngine.Compute([a, b, a], 100).Converted.ShouldBe(1);
        FunnelEngine.Compute([a, b, a], 19).Converted.ShouldBe(0); // 30 − 10 > 19

        // Strict: C is a funnel event of A → C → B only; in A → B it is outside the timeline.
        FunnelEngine.Compute([a, b], 100, FunnelOrder.Strict).Converted.ShouldBe(3);
        var strict = FunnelEngine.Compute([a, c, b], 100, FunnelOrder.Strict);
        strict.ReachedCounts.ShouldBe([3L, 1L, 1L]);
        // In A → B → C, ordinal 2's C sits between its A and B.
        FunnelEngine.Compute([a, b, c], 100, FunnelOrder.Strict).ReachedCounts.ShouldBe([3L, 2L, 0L]);

        // Exclusion X between A and B cuts ordinal 3's attempt after step 1.
        var excluded = FunnelEngine.Compute([a, b], 100, exclusion: x);
        excluded.DroppedAfter(0).ToArray().ShouldBe([3u]);
        excluded.Converted.ShouldBe(2);

        // Any order: B then A counts.
        var bFirst = Index((9, 5));
        var aLater = Index((9, 8));
        FunnelEngine.Compute([aLater, bFirst], 3, FunnelOrder.AnyOrder).Converted.ShouldBe(1);
        FunnelEngine.Compute([aLater, bFirst], 3, FunnelOrder.Sequential).Converted.ShouldBe(0);
        FunnelEngine.Compute([aLater, bFirst], 2, FunnelOrder.AnyOrder).Converted.ShouldBe(0);
    }

    [Fact]
    public void Invalid_definitions_are_refused()
    {
        var a = Index((1, 1));
        Should.Throw<ArgumentException>(() => FunnelEngine.Compute([a], 10));
        Should.Throw<ArgumentException>(() => FunnelEngine.Compute(Enumerable.Repeat(a, 11).ToArray(), 10));
        Should.Throw<ArgumentOutOfRangeException>(() => FunnelEngine.Compute([a, a], -1));
        var result = FunnelEngine.Compute([a, EventIndex.Empty], 10);
        result.ReachedCounts.ShouldBe([1L, 0L]);
        Should.Throw<ArgumentOutOfRangeException>(() => result.ReachedStep(2));
    }

    [Fact]
    public void Event_index_groups_and_sorts_pairs()
    {
        var index = EventIndex.Build([5u, 1u, 5u, 70000u, 1u], [30L, 20L, 10L, 1L, 5L]);
        index.Ordinals.ToArray().ShouldBe([1u, 5u, 70000u]);
        index.Offsets.ToArray().ShouldBe([0, 2, 4, 5]);
        index.Timestamps.ToArray().ShouldBe([5L, 20L, 10L, 30L, 1L]);
        index.TimestampsOf(5).ToArray().ShouldBe([10L, 30L]);
        index.TimestampsOf(6).IsEmpty.ShouldBeTrue();
        index.ToBitmap().ToArray().ShouldBe([1u, 5u, 70000u]);
        Should.Throw<ArgumentException>(() => EventIndex.FromSorted([2u, 1u], [0L, 0L]));
        Should.Throw<ArgumentException>(() => EventIndex.FromSorted([1u, 1u], [5L, 4L]));
    }
}
