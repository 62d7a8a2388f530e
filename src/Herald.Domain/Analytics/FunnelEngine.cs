namespace Herald.Domain.Analytics;

public enum FunnelOrder
{
    // Steps in order, other events (including other steps' events) allowed in between.
    Sequential,
    // Steps in order, each step's occurrence immediately following the previous step's one in the
    // ordinal's merged timeline of all the funnel's step events.
    Strict,
    // All steps within the window, in any order.
    AnyOrder,
}

// Ordered funnels over EventIndex columns. Precise semantics (also in docs/analytics-engine.md);
// W = window (ms, inclusive), steps 1..n, "occurrence" = one (timestamp) entry of a step's index:
//
// Sequential: an ordinal reaches step k if there are occurrences t1 < t2 < ... < tk of steps 1..k
//   with tk − t1 ≤ W. Timestamps must strictly increase, so one occurrence never serves two steps
//   (funnels may repeat an event, e.g. A → B → A) and same-millisecond events do not chain.
// Strict: as Sequential, and additionally each chosen occurrence of step j+1 is the entry right
//   after step j's in the ordinal's merged timeline: all occurrences of the funnel's distinct step
//   events, ordered by (timestamp, position of the event's first step in the funnel). Any other
//   step event in between — including another occurrence of the same event — breaks the chain.
//   Events outside the funnel (and the exclusion event) are not in the timeline.
// AnyOrder: reaches step k if there are distinct occurrences of steps 1..k (a repeated event needs
//   as many occurrences as steps it fills), in any order, with latest − earliest ≤ W.
// Exclusion (optional, all orderings): an attempt is cut by the first exclusion event strictly
//   after its earliest occurrence: only occurrences strictly before that exclusion count. I.e. a
//   set of occurrences is valid only if no exclusion x has earliest < x ≤ latest.
// An ordinal's result is the largest k over all its valid attempts; every candidate reaches step 1.
// Candidates are the ordinals of step 1's index, intersected with the population when given.
public static class FunnelEngine
{
    public const int MinSteps = 2;
    public const int MaxSteps = 10;

    public static FunnelResult Compute(
        IReadOnlyList<EventIndex> steps,
        long window,
        FunnelOrder order = FunnelOrder.Sequential,
        EventIndex? exclusion = null,
        RoaringBitmap? population = null,
        int degreeOfParallelism = 1)
    {
        ArgumentNullException.ThrowIfNull(steps);
        if (steps.Count is < MinSteps or > MaxSteps)
            throw new ArgumentException($"A funnel has {MinSteps} to {MaxSteps} steps; got {steps.Count}.", nameof(steps));
        if (window < 0) throw new ArgumentOutOfRangeException(nameof(window), window, "The conversion window must not be negative.");
        if (degreeOfParallelism < 1) throw new ArgumentOutOfRangeException(nameof(degreeOfParallelism));

        uint[] candidates = steps[0].OrdinalArray;
        if (population is not null)
        {
            var kept = new uint[candidates.Length];
            int n = 0;
            foreach (uint o in candidates) if (population.Contains(o)) kept[n++] = o;
            candidates = kept.AsSpan(0, n).ToArray();
        }

        int parts = Math.Max(1, Math.Min(degreeOfParallelism, candidates.Length / 4096));
        var walkers = new FunnelWalker[parts];
        for (int p = 0; p < parts; p++)
        {
            int from = (int)((long)candidates.Length * p / parts), to = (int)((long)candidates.Length * (p + 1) / parts);
            walkers[p] = new FunnelWalker(steps, window, order, exclusion, candidates, from, to);
        }
        if (parts == 1) walkers[0].Run();
        else Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, p => walkers[p].Run());

        // Concatenate per-level ordinal lists; the parts cover ascending candidate ranges.
        int stepCount = steps.Count;
        var levels = new uint[stepCount][];
        for (int k = 0; k < stepCount; k++)
        {
            int total = 0;
            foreach (var w in walkers) total += w.LevelCounts[k];
            var level = new uint[total];
            int at = 0;
            foreach (var w in walkers)
            {
                w.Levels[k].AsSpan(0, w.LevelCounts[k]).CopyTo(level.AsSpan(at));
                at += w.LevelCounts[k];
            }
            levels[k] = level;
        }
        return new FunnelResult(levels);
    }

    // Walks a range of candidates in ascending order, moving one cursor per distinct step event
    // (and the exclusion) forward. All buffers are reused across candidates.
    private sealed class FunnelWalker
    {
        private readonly long _window;
        private readonly FunnelOrder _order;
        private readonly uint[] _candidates;
        private readonly int _from, _to;
        private readonly int _n;
        private readonly int[] _eventOf;          // step → distinct event id
        private readonly EventIndex[] _events;    // distinct events, by first step position
        private readonly int[] _cursor;           // per distinct event: position in its Ordinals
        private readonly int[] _start, _end;      // per distinct event: current ordinal's timestamp range
        private readonly EventIndex? _exclusion;
        private int _exclusionCursor;
        private readonly int[] _stepPtr;          // sequential: per step, position in timestamps
        private long[] _times = new long[64];     // strict / any order: merged timeline
        private byte[] _ids = new byte[64];
        private readonly int[] _heads;
        private readonly int[] _count, _used;

        public readonly uint[][] Levels;
        public readonly int[] LevelCounts;

        public FunnelWalker(IReadOnlyList<EventIndex> steps, long window, FunnelOrder order, EventIndex? exclusion,
            uint[] candidates, int from, int to)
        {
            _window = window;
            _order = order;
            _candidates = candidates;
            _from = from;
            _to = to;
            _n = steps.Count;
            _eventOf = new int[_n];
            var distinct = new List<EventIndex>();
            for (int k = 0; k < _n; k++)
            {
                var e = steps[k] ?? throw new ArgumentException($"Step {k + 1} has no event index.", nameof(steps));
                int id = distinct.IndexOf(e);
                if (id < 0) { id = distinct.Count; distinct.Add(e); }
                _eventOf[k] = id;
            }
            _events = [.. distinct];
            int d = _events.Length;
            _cursor = new int[d];
            _start = new int[d];
            _end = new int[d];
            _heads = new int[d];
            _count = new int[d];
            _used = new int[d];
            _stepPtr = new int[_n];
            _exclusion = exclusion;
            Levels = new uint[_n][];
            LevelCounts = new int[_n];
            for (int k = 0; k < _n; k++) Levels[k] = new uint[16];
            if (from < to)
            {
                for (int e = 0; e < d; e++) _cursor[e] = EventIndex.Seek(_events[e].OrdinalArray, 0, candidates[from]);
                if (exclusion is not null) _exclusionCursor = EventIndex.Seek(exclusion.OrdinalArray, 0, candidates[from]);
            }
        }

        public void Run()
        {
            int d = _events.Length;
            for (int c = _from; c < _to; c++)
            {
                uint ordinal = _candidates[c];
                for (int e = 0; e < d; e++)
                {
                    var ev = _events[e];
                    var ords = ev.OrdinalArray;
                    int pos = _cursor[e] = EventIndex.Seek(ords, _cursor[e], ordinal);
                    if (pos < ords.Length && ords[pos] == ordinal) { _start[e] = ev.OffsetArray[pos]; _end[e] = ev.OffsetArray[pos + 1]; }
                    else _start[e] = _end[e] = 0;
                }
                // Steps whose event the ordinal never did cap the result without looking at time.
                int cap = _n;
                for (int k = 1; k < _n; k++)
                {
                    int e = _eventOf[k];
                    if (_start[e] == _end[e]) { cap = k; break; }
                }

                long[] exTimes = [];
                int exStart = 0, exEnd = 0;
                if (_exclusion is not null && cap > 1)
                {
                    var ords = _exclusion.OrdinalArray;
                    int pos = _exclusionCursor = EventIndex.Seek(ords, _exclusionCursor, ordinal);
                    if (pos < ords.Length && ords[pos] == ordinal)
                    {
                        exTimes = _exclusion.TimestampArray;
                        exStart = _exclusion.OffsetArray[pos];
                        exEnd = _exclusion.OffsetArray[pos + 1];
                    }
                }

                int reached = cap == 1 ? 1 : _order switch
                {
                    FunnelOrder.Sequential => Sequential(cap, exTimes, exStart, exEnd),
                    FunnelOrder.Strict => Strict(cap, exTimes, exStart, exEnd),
                    _ => AnyOrder(cap, exTimes, exStart, exEnd),
                };
                Record(reached - 1, ordinal);
            }
        }

        private void Record(int level, uint ordinal)
        {
            var list = Levels[level];
            int n = LevelCounts[level];
            if (n == list.Length) Levels[level] = list = GrowTo(list, n * 2);
            list[n] = ordinal;
            LevelCounts[level] = n + 1;
        }

        private static T[] GrowTo<T>(T[] a, int size)
        {
            var b = new T[size];
            a.CopyTo(b, 0);
            return b;
        }

        private long Deadline(long t0, long[] exTimes, ref int ex, int exEnd)
        {
            long deadline = t0 > long.MaxValue - _window ? long.MaxValue : t0 + _window;
            while (ex < exEnd && exTimes[ex] <= t0) ex++;
            if (ex < exEnd && exTimes[ex] - 1 < deadline) deadline = exTimes[ex] - 1;
            return deadline;
        }

        // Greedy per start: from each step-1 occurrence take the earliest later occurrence of each
        // next step. Earliest choices leave the most room, so this is optimal for that start; chains
        // from later starts pick later (or equal) occurrences, so the per-step pointers only move
        // forward and the whole ordinal costs O(its events + starts · steps).
        private int Sequential(int cap, long[] exTimes, int ex, int exEnd)
        {
            var first = _events[0].TimestampArray;
            int s0 = _start[0], e0 = _end[0];
            for (int k = 1; k < cap; k++) _stepPtr[k] = _start[_eventOf[k]];
            int best = 1;
            long lastStart = long.MinValue;
            for (int i = s0; i < e0; i++)
            {
                long t0 = first[i];
                if (t0 == lastStart) continue;
                lastStart = t0;
                long deadline = Deadline(t0, exTimes, ref ex, exEnd);
                long prev = t0;
                int k = 1;
                while (k < cap)
                {
                    int e = _eventOf[k];
                    var ts = _events[e].TimestampArray;
                    int p = _stepPtr[k], end = _end[e];
                    while (p < end && ts[p] <= prev) p++;
                    _stepPtr[k] = p;
                    if (p == end || ts[p] > deadline) break;
                    prev = ts[p];
                    k++;
                }
                if (k > best && (best = k) == cap) break;
            }
            return best;
        }

        // Merges the distinct step events' timestamps into (_times, _ids), ordered by (time, id).
        private int BuildTimeline()
        {
            int d = _events.Length, total = 0;
            for (int e = 0; e < d; e++) { _heads[e] = _start[e]; total += _end[e] - _start[e]; }
            if (_times.Length < total)
            {
                int size = Math.Max(total, _times.Length * 2);
                _times = new long[size];
                _ids = new byte[size];
            }
            for (int n = 0; n < total; n++)
            {
                int bestE = -1;
                long bestT = long.MaxValue;
                for (int e = 0; e < d; e++)
                {
                    int h = _heads[e];
                    if (h < _end[e])
                    {
                        long t = _events[e].TimestampArray[h];
                        if (bestE < 0 || t < bestT) { bestE = e; bestT = t; }
                    }
                }
                _times[n] = bestT;
                _ids[n] = (byte)bestE;
                _heads[bestE]++;
            }
            return total;
        }

        private int Strict(int cap, long[] exTimes, int ex, int exEnd)
        {
            int length = BuildTimeline();
            int first = _eventOf[0];
            int best = 1;
            for (int i = 0; i < length; i++)
            {
                if (_ids[i] != first) continue;
                long t0 = _times[i];
                long deadline = Deadline(t0, exTimes, ref ex, exEnd);
                long prev = t0;
                int k = 1, j = i + 1;
                while (k < cap && j < length && _ids[j] == _eventOf[k] && _times[j] > prev && _times[j] <= deadline)
                {
                    prev = _times[j];
                    k++;
                    j++;
                }
                if (k > best && (best = k) == cap) break;
            }
            return best;
        }

        // Sliding window over the merged timeline: each distinct start time opens [t, deadline];
        // deadlines never decrease, so both window ends only move forward.
        private int AnyOrder(int cap, long[] exTimes, int ex, int exEnd)
        {
            int length = BuildTimeline();
            int d = _events.Length;
            Array.Clear(_count, 0, d);
            int best = 1, right = 0;
            for (int i = 0; i < length; i++)
            {
                if (i > 0)
                {
                    _count[_ids[i - 1]]--;
                    if (_times[i] == _times[i - 1]) continue;
                }
                long deadline = Deadline(_times[i], exTimes, ref ex, exEnd);
                while (right < length && _times[right] <= deadline) _count[_ids[right++]]++;
                Array.Clear(_used, 0, d);
                int k = 0;
                while (k < cap)
                {
                    int e = _eventOf[k];
                    if (++_used[e] > _count[e]) break;
                    k++;
                }
                if (k > best && (best = k) == cap) break;
            }
            return best;
        }
    }
}

// Per-step outcome. Step numbers here are zero-based: step 0 is the funnel's first step.
public sealed class FunnelResult
{
    private readonly uint[][] _levels; // _levels[k]: ordinals whose furthest step is k (ascending)
    private readonly long[] _reached;

    internal FunnelResult(uint[][] levels)
    {
        _levels = levels;
        _reached = new long[levels.Length];
        long sum = 0;
        for (int k = levels.Length - 1; k >= 0; k--)
        {
            sum += levels[k].Length;
            _reached[k] = sum;
        }
    }

    public int StepCount => _levels.Length;
    public long Candidates => _reached[0];
    public long Converted => _reached[^1];

    // ReachedCounts[k] = number of ordinals that reached at least step k.
    public IReadOnlyList<long> ReachedCounts => _reached;

    // Ordinals that reached at least step k.
    public RoaringBitmap ReachedStep(int step)
    {
        CheckStep(step);
        var parts = new RoaringBitmap[_levels.Length - step];
        for (int k = step; k < _levels.Length; k++) parts[k - step] = RoaringBitmap.FromSorted(_levels[k]);
        return RoaringBitmap.OrMany(parts);
    }

    // Ordinals whose furthest step is exactly k (reached k, not k + 1). For the last step these
    // are the converted ordinals.
    public RoaringBitmap DroppedAfter(int step)
    {
        CheckStep(step);
        return RoaringBitmap.FromSorted(_levels[step]);
    }

    public ReadOnlySpan<uint> FurthestStepOrdinals(int step)
    {
        CheckStep(step);
        return _levels[step];
    }

    private void CheckStep(int step)
    {
        if ((uint)step >= (uint)_levels.Length)
            throw new ArgumentOutOfRangeException(nameof(step), step, $"Steps are numbered 0..{_levels.Length - 1}.");
    }
}
