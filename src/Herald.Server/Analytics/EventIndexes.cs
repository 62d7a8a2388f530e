using System.Collections.Concurrent;
using System.Text.Json;
using Herald.Domain.Analytics;
using Herald.Server.Ingest;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Analytics;

/// <summary>
/// Funnel and retention indexes: per (app, event name, device or user) an <see cref="EventIndex"/>
/// of (ordinal, timestamp) pairs, built from the events table on first use and cached. Newly
/// committed events are appended to a pending list and merged in on the next read. An entry knows
/// how many stored events it covers; when the rollups' total for the name says otherwise (another
/// node ingested, or a rebuild ran) the entry is read again from the table.
/// </summary>
public sealed class EventIndexes(Db db, RollupStore rollups, IOptions<AnalyticsOptions> options)
{
    private readonly record struct Key(long App, string Name, bool ByUser);

    private sealed class Entry(EventIndex index, long covered)
    {
        public EventIndex Index = index;
        public long Covered = covered;
        public readonly List<(uint Ordinal, long At)> Pending = [];
        public long PendingEvents;
        public long Touched;
        public long Bytes => Index.EventCount * 8L + Index.OrdinalCount * 8L + 64;
    }

    private readonly ConcurrentDictionary<Key, Entry> _entries = new();
    private long _tick;

    public async Task<EventIndex> GetAsync(long appId, string name, bool byUser, CancellationToken ct)
    {
        var total = await rollups.TotalCountAsync(appId, name, ct) ?? 0;
        var key = new Key(appId, name, byUser);
        if (_entries.TryGetValue(key, out var e))
        {
            lock (e)
            {
                if (e.Covered + e.PendingEvents == total)
                {
                    if (e.Pending.Count > 0 || e.PendingEvents > 0)
                    {
                        e.Index = Merge(e.Index, e.Pending);
                        e.Pending.Clear();
                        e.Covered += e.PendingEvents;
                        e.PendingEvents = 0;
                    }
                    e.Touched = Interlocked.Increment(ref _tick);
                    return e.Index;
                }
            }
        }
        var built = await ReadAsync(appId, name, byUser, null, ct);
        _entries[key] = new Entry(built, total) { Touched = Interlocked.Increment(ref _tick) };
        Trim();
        return built;
    }

    /// <summary>An index of only the events whose properties match every filter (not cached).</summary>
    public Task<EventIndex> GetFilteredAsync(long appId, string name, bool byUser, IReadOnlyList<AttributeCondition> where, long nowMs, CancellationToken ct) =>
        ReadAsync(appId, name, byUser, props => Matches(props, where, nowMs), ct);

    public static bool Matches(string propertiesJson, IReadOnlyList<AttributeCondition> where, long nowMs)
    {
        using var doc = JsonDocument.Parse(propertiesJson);
        foreach (var c in where)
            if (!c.Matches(doc.RootElement.TryGetProperty(c.Attribute, out var v) ? v : (JsonElement?)null, nowMs))
                return false;
        return true;
    }

    public void Append(IReadOnlyList<StoredEvent> events)
    {
        foreach (var g in events.GroupBy(e => (e.AppId, e.Name)))
        {
            foreach (var byUser in new[] { false, true })
            {
                if (!_entries.TryGetValue(new Key(g.Key.AppId, g.Key.Name, byUser), out var e)) continue;
                lock (e)
                {
                    foreach (var ev in g)
                        if ((byUser ? ev.UserOrdinal : ev.DeviceOrdinal) is { } o)
                            e.Pending.Add(((uint)o, ev.OccurredAt));
                    e.PendingEvents += g.Count();
                }
            }
        }
    }

    public void RemoveApp(long appId)
    {
        foreach (var k in _entries.Keys)
            if (k.App == appId) _entries.TryRemove(k, out _);
    }

    /// <summary>Only the occurrences inside [from, to) (unix ms); the index itself when nothing is cut.</summary>
    public static EventIndex Slice(EventIndex index, long from, long to)
    {
        var ts = index.Timestamps;
        var ords = index.Ordinals;
        var offsets = index.Offsets;
        var outOrd = new List<uint>();
        var outTs = new List<long>();
        for (var i = 0; i < ords.Length; i++)
            for (var k = offsets[i]; k < offsets[i + 1]; k++)
                if (ts[k] >= from && ts[k] < to)
                {
                    outOrd.Add(ords[i]);
                    outTs.Add(ts[k]);
                }
        return outTs.Count == index.EventCount ? index : EventIndex.FromSorted(outOrd.ToArray(), outTs.ToArray());
    }

    private static EventIndex Merge(EventIndex index, List<(uint Ordinal, long At)> pending)
    {
        if (pending.Count == 0) return index;
        var n = index.EventCount + pending.Count;
        var ords = new uint[n];
        var ts = new long[n];
        var k = 0;
        var offsets = index.Offsets;
        for (var i = 0; i < index.OrdinalCount; i++)
            for (var j = offsets[i]; j < offsets[i + 1]; j++)
            {
                ords[k] = index.Ordinals[i];
                ts[k++] = index.Timestamps[j];
            }
        foreach (var (o, at) in pending)
        {
            ords[k] = o;
            ts[k++] = at;
        }
        return EventIndex.Build(ords, ts);
    }

    private async Task<EventIndex> ReadAsync(long appId, string name, bool byUser, Func<string, bool>? filter, CancellationToken ct)
    {
        var column = byUser ? "user_ordinal" : "device_ordinal";
        var ords = new List<uint>();
        var ts = new List<long>();
        await using var conn = await db.OpenAsync(ct);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = $"SELECT {column}, occurred_at{(filter is null ? "" : ", properties")} FROM events WHERE app_id = @app AND name = @name AND {column} IS NOT NULL ORDER BY {column}, occurred_at";
        var pa = cmd.CreateParameter(); pa.ParameterName = "@app"; pa.Value = appId; cmd.Parameters.Add(pa);
        var pn = cmd.CreateParameter(); pn.ParameterName = "@name"; pn.Value = name; cmd.Parameters.Add(pn);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            if (filter is not null && !filter(r.GetString(2))) continue;
            ords.Add((uint)r.GetInt32(0));
            ts.Add(r.GetInt64(1));
        }
        return EventIndex.FromSorted(ords.ToArray(), ts.ToArray());
    }

    private void Trim()
    {
        var budget = (long)options.Value.IndexCacheMegabytes << 20;
        var total = _entries.Values.Sum(e => e.Bytes);
        if (total <= budget) return;
        foreach (var (k, e) in _entries.OrderBy(kv => kv.Value.Touched).ToList())
        {
            if (total <= budget * 3 / 4) break;
            if (_entries.TryRemove(k, out _)) total -= e.Bytes;
        }
    }
}
