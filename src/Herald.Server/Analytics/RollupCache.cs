using System.Collections.Concurrent;
using Herald.Domain.Analytics;

namespace Herald.Server.Analytics;

/// <summary>One (app, event name, local day) rollup as read or merged; immutable once cached.</summary>
public sealed class DayRollup(int day, long version, RoaringBitmap devices, RoaringBitmap users, long count, double revenue)
{
    private HyperLogLog? _deviceSketch, _userSketch;

    public int Day { get; } = day;
    public long Version { get; } = version;
    public RoaringBitmap Devices { get; } = devices;
    public RoaringBitmap Users { get; } = users;
    public long Count { get; } = count;
    public double Revenue { get; } = revenue;

    /// <summary>
    /// Sketch of the day's devices or users, made once per cached version (and precision), so
    /// estimate=hll merges fixed-size sketches instead of OR-ing bitmaps.
    /// </summary>
    public HyperLogLog Sketch(bool users, int precision)
    {
        var cached = users ? _userSketch : _deviceSketch;
        if (cached is not null && cached.Precision == precision) return cached;
        var h = new HyperLogLog(precision);
        foreach (var o in users ? Users : Devices) h.AddOrdinal(o);
        if (users) _userSketch = h; else _deviceSketch = h;
        return h;
    }
}

/// <summary>
/// Bounded in-memory copy of day rollups. Entries carry the row's version: readers compare it
/// with the database's (a cheap read of two integers per day), so a node never serves bits another
/// node has since merged. Over budget, the least recently used entries go.
/// </summary>
public sealed class RollupCache(long budgetBytes)
{
    public readonly record struct Key(long App, string Name, int Day);

    private sealed class Entry(DayRollup value, long bytes)
    {
        public DayRollup Value { get; } = value;
        public long Bytes { get; } = bytes;
        public long Touched;
    }

    private readonly ConcurrentDictionary<Key, Entry> _entries = new();
    private readonly Lock _evicting = new();
    private long _bytes;
    private long _tick;

    public long Bytes => Interlocked.Read(ref _bytes);

    public bool TryGet(Key key, long version, out DayRollup value)
    {
        if (_entries.TryGetValue(key, out var e) && e.Value.Version == version)
        {
            e.Touched = Interlocked.Increment(ref _tick);
            value = e.Value;
            return true;
        }
        value = null!;
        return false;
    }

    public void Put(Key key, DayRollup value)
    {
        var entry = new Entry(value, value.Devices.SizeInBytes() + value.Users.SizeInBytes() + 64) { Touched = Interlocked.Increment(ref _tick) };
        _entries.AddOrUpdate(key, entry, (_, old) =>
        {
            Interlocked.Add(ref _bytes, -old.Bytes);
            return entry;
        });
        Interlocked.Add(ref _bytes, entry.Bytes);
        if (Bytes > budgetBytes) Evict();
    }

    public void RemoveApp(long app)
    {
        foreach (var k in _entries.Keys)
            if (k.App == app && _entries.TryRemove(k, out var e))
                Interlocked.Add(ref _bytes, -e.Bytes);
    }

    private void Evict()
    {
        lock (_evicting)
        {
            if (Bytes <= budgetBytes) return;
            var target = budgetBytes * 3 / 4;
            foreach (var (k, e) in _entries.OrderBy(kv => kv.Value.Touched).ToList())
            {
                if (Bytes <= target) break;
                if (_entries.TryRemove(k, out var removed)) Interlocked.Add(ref _bytes, -removed.Bytes);
            }
        }
    }
}
