using System.Diagnostics;
using Herald.Domain.Analytics;

namespace Herald.Bench;

// In-memory analytics engine figures: `dotnet run -c Release --project bench/Herald.Bench -- analytics [--quick]`.
// Synthetic app: 1M device ordinals, 10M events over 90 days, 20 event names with Zipf popularity,
// device activity skewed towards low ordinals; fixed seed. Peers measured in the same run: a
// pairwise OR fold and a HashSet union for the unique-devices query.
public static class AnalyticsBench
{
    private const long DayMs = 86_400_000;
    private const long Epoch = 1_699_920_000_000; // a UTC midnight
    private const int Days = 90;
    private const int EventNames = 20;

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int devices = quick ? 100_000 : 1_000_000;
        int events = quick ? 1_000_000 : 10_000_000;
        int runs = quick ? 3 : 7;
        int hllSeeds = quick ? 10 : 100;

        Console.WriteLine($"Herald analytics engine (in memory) — {devices:N0} devices, {events:N0} events, {Days} days, {EventNames} event names");
        Console.WriteLine($"{Environment.ProcessorCount} cores, .NET {Environment.Version}, median of {runs} runs");
        Console.WriteLine();

        var sw = Stopwatch.StartNew();
        var perEvent = Generate(devices, events, seed: 42);
        Console.WriteLine($"generate + sort events:           {sw.Elapsed.TotalMilliseconds,10:F0} ms");

        sw.Restart();
        var dayBitmaps = new RoaringBitmap[EventNames][];
        long bitmapBytes = 0;
        for (int e = 0; e < EventNames; e++)
        {
            dayBitmaps[e] = BuildDayBitmaps(perEvent[e]);
            foreach (var b in dayBitmaps[e]) bitmapBytes += b.GetSerializedSize();
        }
        Console.WriteLine($"build {EventNames * Days} day bitmaps:            {sw.Elapsed.TotalMilliseconds,10:F0} ms  ({bitmapBytes / 1048576.0:F1} MiB serialized)");

        sw.Restart();
        var indexes = new EventIndex[EventNames];
        for (int e = 0; e < EventNames; e++) indexes[e] = BuildIndex(perEvent[e]);
        Console.WriteLine($"build {EventNames} funnel indexes:            {sw.Elapsed.TotalMilliseconds,10:F0} ms  ({indexes.Sum(i => i.EventCount * 12L + i.OrdinalCount * 8L) / 1048576.0:F1} MiB)");
        perEvent = null!;
        Console.WriteLine();

        var rows = new List<(string Name, double Ms, string Result)>();

        // 1. Unique devices over 90 days for the most popular event.
        long unique = 0;
        rows.Add(("unique devices, 90 days (OrMany)", Median(runs, () => unique = RoaringBitmap.OrMany(dayBitmaps[0]).Cardinality), $"{unique:N0}"));
        long folded = 0;
        rows.Add(("  peer: pairwise Or fold", Median(runs, () =>
        {
            var acc = dayBitmaps[0][0].Clone();
            for (int d = 1; d < Days; d++) acc.OrWith(dayBitmaps[0][d]);
            folded = acc.Cardinality;
        }), $"{folded:N0}"));
        long hashed = 0;
        rows.Add(("  peer: HashSet<uint> union", Median(Math.Min(runs, 3), () =>
        {
            var set = new HashSet<uint>();
            foreach (var b in dayBitmaps[0]) foreach (uint o in b) set.Add(o);
            hashed = set.Count;
        }), $"{hashed:N0}"));
        long rare = 0;
        rows.Add(("unique devices, 90 days, rarest event", Median(runs, () => rare = RoaringBitmap.OrMany(dayBitmaps[EventNames - 1]).Cardinality), $"{rare:N0}"));

        // 2. Segment: attribute AND did X in the last 30 days AND NOT did Y (ever, 90 days).
        var rng = new Random(7);
        var attribute = new List<uint>();
        for (uint o = 0; o < devices; o++) if (rng.Next(100) < 45) attribute.Add(o);
        var attributeBitmap = RoaringBitmap.FromSorted(attribute.ToArray());
        long segment = 0;
        rows.Add(("segment: attr ∧ X(30d) ∧ ¬Y(90d)", Median(runs, () =>
        {
            var didX = RoaringBitmap.OrMany(dayBitmaps[1].AsSpan(Days - 30));
            var didY = RoaringBitmap.OrMany(dayBitmaps[4]);
            didX.AndWith(attributeBitmap);
            didX.AndNotWith(didY);
            segment = didX.Cardinality;
        }), $"{segment:N0}"));
        var cachedX = RoaringBitmap.OrMany(dayBitmaps[1].AsSpan(Days - 30));
        var cachedY = RoaringBitmap.OrMany(dayBitmaps[4]);
        rows.Add(("  same, unions cached", Median(runs, () => segment = RoaringBitmap.AndNot(RoaringBitmap.And(attributeBitmap, cachedX), cachedY).Cardinality), $"{segment:N0}"));
        long andCount = 0;
        rows.Add(("  AndCardinality(attr, X30) only", Median(runs, () => andCount = RoaringBitmap.AndCardinality(attributeBitmap, cachedX)), $"{andCount:N0}"));

        // 3. Funnels over the columnar indexes.
        EventIndex[] steps = [indexes[0], indexes[2], indexes[5]];
        long window = 7 * DayMs;
        foreach (var (order, dop) in new[] { (FunnelOrder.Sequential, 1), (FunnelOrder.Sequential, 2), (FunnelOrder.Strict, 1), (FunnelOrder.AnyOrder, 1) })
        {
            FunnelResult? r = null;
            double ms = Median(runs, () => r = FunnelEngine.Compute(steps, window, order, degreeOfParallelism: dop));
            rows.Add(($"funnel 3 steps, 7d, {order}{(dop > 1 ? $", {dop} threads" : "")}", ms, string.Join(" → ", r!.ReachedCounts.Select(c => c.ToString("N0")))));
        }
        {
            FunnelResult? r = null;
            double ms = Median(runs, () => r = FunnelEngine.Compute(steps, window, FunnelOrder.Sequential, exclusion: indexes[9]));
            rows.Add(("funnel 3 steps, 7d, exclusion", ms, string.Join(" → ", r!.ReachedCounts.Select(c => c.ToString("N0")))));
        }
        Console.WriteLine($"{"query",-42} {"median ms",10}  result");
        Console.WriteLine(new string('-', 90));
        foreach (var (name, ms, result) in rows) Console.WriteLine($"{name,-42} {ms,10:F2}  {result}");
        Console.WriteLine();

        // 4. HyperLogLog error over 1M distinct ids per seed.
        Console.WriteLine($"{"HyperLogLog, 1M distinct ids",-32} {"seeds",6} {"std err",8} {"median |err|",13} {"max |err|",10} {"ns/add",8}");
        Console.WriteLine(new string('-', 82));
        foreach (int p in new[] { 14, 17 })
        {
            var errors = new double[hllSeeds];
            var t = Stopwatch.StartNew();
            double se = 0;
            for (int s = 0; s < hllSeeds; s++)
            {
                var hll = new HyperLogLog(p);
                uint first = (uint)s * 1_000_000u;
                for (uint i = 0; i < 1_000_000; i++) hll.AddOrdinal(first + i);
                errors[s] = Math.Abs(hll.Estimate() - 1_000_000) / 1_000_000;
                se = hll.StandardError;
            }
            double nsPerAdd = t.Elapsed.TotalMilliseconds * 1e6 / (hllSeeds * 1_000_000.0);
            Array.Sort(errors);
            Console.WriteLine($"{"precision " + p,-32} {hllSeeds,6} {se,8:P2} {errors[errors.Length / 2],13:P3} {errors[^1],10:P3} {nsPerAdd,8:F1}");
        }
        return 0;
    }

    private static double Median(int runs, Action action)
    {
        action(); // warm-up (JIT, caches)
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return times[runs / 2];
    }

    // Per event name: keys (ordinal << 33 | ms offset from Epoch), sorted = by ordinal, then time.
    private static ulong[][] Generate(int devices, int events, int seed)
    {
        var rng = new Random(seed);
        var cumulative = new double[EventNames];
        double sum = 0;
        for (int r = 0; r < EventNames; r++) cumulative[r] = sum += 1.0 / (r + 1);
        var name = new byte[events];
        var key = new ulong[events];
        var counts = new int[EventNames];
        for (int i = 0; i < events; i++)
        {
            int e = Array.BinarySearch(cumulative, rng.NextDouble() * sum);
            e = e < 0 ? Math.Min(~e, EventNames - 1) : e;
            uint ordinal = (uint)(devices * Math.Pow(rng.NextDouble(), 1.6));
            long offset = rng.NextInt64(0, Days * DayMs);
            name[i] = (byte)e;
            key[i] = (ulong)ordinal << 33 | (ulong)offset;
            counts[e]++;
        }
        var perEvent = new ulong[EventNames][];
        var fill = new int[EventNames];
        for (int e = 0; e < EventNames; e++) perEvent[e] = new ulong[counts[e]];
        for (int i = 0; i < events; i++) perEvent[name[i]][fill[name[i]]++] = key[i];
        foreach (var a in perEvent) Array.Sort(a);
        return perEvent;
    }

    private static RoaringBitmap[] BuildDayBitmaps(ulong[] keys)
    {
        var lists = new List<uint>[Days];
        var last = new long[Days];
        for (int d = 0; d < Days; d++) { lists[d] = new List<uint>(keys.Length / Days + 16); last[d] = -1; }
        foreach (ulong k in keys)
        {
            uint ordinal = (uint)(k >> 33);
            int day = (int)((long)(k & ((1UL << 33) - 1)) / DayMs);
            if (last[day] == ordinal) continue;
            last[day] = ordinal;
            lists[day].Add(ordinal);
        }
        var bitmaps = new RoaringBitmap[Days];
        for (int d = 0; d < Days; d++) bitmaps[d] = RoaringBitmap.FromSorted(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(lists[d]));
        return bitmaps;
    }

    private static EventIndex BuildIndex(ulong[] keys)
    {
        var ordinals = new uint[keys.Length];
        var times = new long[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            ordinals[i] = (uint)(keys[i] >> 33);
            times[i] = Epoch + (long)(keys[i] & ((1UL << 33) - 1));
        }
        return EventIndex.FromSorted(ordinals, times);
    }
}
