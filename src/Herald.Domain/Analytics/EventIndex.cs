namespace Herald.Domain.Analytics;

// Columnar index of one event's occurrences: for each ordinal (device or user) that did the event,
// its timestamps (unix ms) in ascending order. Ordinals are distinct and ascending, so funnels and
// retention walk several indexes together by merging, never by lookup per ordinal.
//
//   Ordinals   [o0, o1, o2, ...]            distinct, ascending
//   Offsets    [0, n0, n0+n1, ..., total]    ordinal i's timestamps are Timestamps[Offsets[i]..Offsets[i+1]]
//   Timestamps [...]                         ascending within each ordinal
//
// Immutable once built; safe to share between threads.
public sealed class EventIndex
{
    private readonly uint[] _ordinals;
    private readonly int[] _offsets;
    private readonly long[] _timestamps;

    private EventIndex(uint[] ordinals, int[] offsets, long[] timestamps)
    {
        _ordinals = ordinals;
        _offsets = offsets;
        _timestamps = timestamps;
    }

    public static EventIndex Empty { get; } = new([], [0], []);

    public ReadOnlySpan<uint> Ordinals => _ordinals;
    public ReadOnlySpan<int> Offsets => _offsets;
    public ReadOnlySpan<long> Timestamps => _timestamps;
    public int OrdinalCount => _ordinals.Length;
    public int EventCount => _timestamps.Length;

    internal uint[] OrdinalArray => _ordinals;
    internal int[] OffsetArray => _offsets;
    internal long[] TimestampArray => _timestamps;

    // From (ordinal, timestamp) pairs in any order.
    public static EventIndex Build(ReadOnlySpan<uint> ordinals, ReadOnlySpan<long> timestamps)
    {
        if (ordinals.Length != timestamps.Length)
            throw new ArgumentException($"Got {ordinals.Length} ordinals but {timestamps.Length} timestamps.");
        var o = ordinals.ToArray();
        var t = timestamps.ToArray();
        Array.Sort(o, t);
        int start = 0;
        for (int i = 1; i <= o.Length; i++)
        {
            if (i == o.Length || o[i] != o[start])
            {
                t.AsSpan(start, i - start).Sort();
                start = i;
            }
        }
        return FromSorted(o, t);
    }

    // From pairs already sorted by ordinal, then timestamp (the ingest and rebuild paths produce
    // them in this order); the order is checked.
    public static EventIndex FromSorted(ReadOnlySpan<uint> ordinals, ReadOnlySpan<long> timestamps)
    {
        if (ordinals.Length != timestamps.Length)
            throw new ArgumentException($"Got {ordinals.Length} ordinals but {timestamps.Length} timestamps.");
        int distinct = ordinals.Length == 0 ? 0 : 1;
        for (int i = 1; i < ordinals.Length; i++)
        {
            if (ordinals[i] < ordinals[i - 1] || (ordinals[i] == ordinals[i - 1] && timestamps[i] < timestamps[i - 1]))
                throw new ArgumentException($"Pairs must be sorted by ordinal, then timestamp; position {i} ({ordinals[i]}, {timestamps[i]}) follows ({ordinals[i - 1]}, {timestamps[i - 1]}).");
            if (ordinals[i] != ordinals[i - 1]) distinct++;
        }
        var distinctOrdinals = new uint[distinct];
        var offsets = new int[distinct + 1];
        int n = 0;
        for (int i = 0; i < ordinals.Length; i++)
        {
            if (i == 0 || ordinals[i] != ordinals[i - 1])
            {
                distinctOrdinals[n] = ordinals[i];
                offsets[n++] = i;
            }
        }
        offsets[distinct] = ordinals.Length;
        return new EventIndex(distinctOrdinals, offsets, timestamps.ToArray());
    }

    public ReadOnlySpan<long> TimestampsOf(uint ordinal)
    {
        int i = _ordinals.AsSpan().BinarySearch(ordinal);
        return i < 0 ? [] : _timestamps.AsSpan(_offsets[i], _offsets[i + 1] - _offsets[i]);
    }

    public RoaringBitmap ToBitmap() => RoaringBitmap.FromSorted(_ordinals);

    // First position >= from whose ordinal is >= target (galloping, so walking a small candidate
    // list through a large index costs O(candidates · log gap), not O(index)).
    internal static int Seek(uint[] ordinals, int from, uint target)
    {
        int n = ordinals.Length;
        if (from >= n || ordinals[from] >= target) return from;
        int lo = from, bound = 1;
        while (lo + bound < n && ordinals[lo + bound] < target)
        {
            lo += bound;
            bound <<= 1;
        }
        int hi = Math.Min(lo + bound, n);
        int i = ordinals.AsSpan(lo + 1, hi - lo - 1).BinarySearch(target);
        return lo + 1 + (i >= 0 ? i : ~i);
    }
}
