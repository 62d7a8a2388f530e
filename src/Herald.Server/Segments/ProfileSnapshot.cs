using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Herald.Domain.Analytics;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;
using Herald.Server.Analytics;

namespace Herald.Server.Segments;

/// <summary>
/// The app's devices (facts) and their users' attributes, read in one scan and kept for
/// <see cref="AnalyticsOptions.ProfileSnapshotTtl"/>. Attribute and device-fact clauses are evaluated
/// over it once per snapshot and memoised as bitmaps, so segment evaluation is bitmap algebra.
/// </summary>
public sealed class ProfileSnapshot
{
    public required long TakenAt { get; init; }
    public required uint[] Ordinals { get; init; }
    public required string[] Platforms { get; init; }
    public required bool[] PushEnabled { get; init; }
    public required string?[] AppVersions { get; init; }
    public required string?[] Timezones { get; init; }
    public required string?[] Locales { get; init; }
    public required long[] LastSeen { get; init; }
    public required int[] UserIndex { get; init; }       // index into UserAttributes, -1 without a user
    public required JsonElement[] UserAttributes { get; init; }
    public required RoaringBitmap Universe { get; init; }
    /// <summary>The highest device ordinal the scan saw (installed or not); -1 when none.</summary>
    public required long MaxOrdinal { get; init; }
    public ConcurrentDictionary<string, RoaringBitmap> Memo { get; } = new();

    public RoaringBitmap Where(string key, Func<int, bool> predicate)
    {
        return Memo.GetOrAdd(key, _ =>
        {
            var hits = new List<uint>();
            for (var i = 0; i < Ordinals.Length; i++)
                if (predicate(i)) hits.Add(Ordinals[i]);
            return RoaringBitmap.FromSorted(hits.ToArray());
        });
    }

    public object? Fact(string fact, int i) => fact switch
    {
        "platform" => Platforms[i],
        "pushEnabled" => PushEnabled[i],
        "appVersion" => AppVersions[i],
        "timezone" => Timezones[i],
        "locale" => Locales[i],
        "lastSeen" => DateTimeOffset.FromUnixTimeMilliseconds(LastSeen[i]).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        _ => null,
    };

    public JsonElement? Attribute(string name, int i) =>
        UserIndex[i] >= 0 && UserAttributes[UserIndex[i]].TryGetProperty(name, out var v) ? v : null;
}

public sealed class ProfileSnapshots(Db db, TimeProvider clock, IOptions<AnalyticsOptions> options)
{
    private readonly ConcurrentDictionary<long, Task<ProfileSnapshot>> _snapshots = new();

    public async Task<ProfileSnapshot> GetAsync(long appId, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var ttl = (long)options.Value.ProfileSnapshotTtl.TotalMilliseconds;
        if (_snapshots.TryGetValue(appId, out var t))
        {
            var s = await t;
            if (now - s.TakenAt <= ttl && now >= s.TakenAt) return s;
            _snapshots.TryUpdate(appId, ReadAsync(appId, now, ct), t);
        }
        return await _snapshots.GetOrAdd(appId, _ => ReadAsync(appId, now, ct));
    }

    /// <summary>Forget the app's snapshot (after profile changes a caller must see at once).</summary>
    public void Invalidate(long appId) => _snapshots.TryRemove(appId, out _);

    private async Task<ProfileSnapshot> ReadAsync(long appId, long now, CancellationToken ct)
    {
        var ords = new List<uint>(); var platforms = new List<string>(); var push = new List<bool>();
        var versions = new List<string?>(); var zones = new List<string?>(); var locales = new List<string?>();
        var seen = new List<long>(); var userIndex = new List<int>(); var attrs = new List<JsonElement>();
        var uninstalled = new List<uint>();
        var userSlots = new Dictionary<int, int>();
        await using var conn = await db.OpenAsync(ct);
        await using (var cmd = conn.CreateCommand())
        {
            cmd.CommandText = "SELECT ordinal, attributes FROM users WHERE app_id = @app AND deleted_at IS NULL";
            var p = cmd.CreateParameter(); p.ParameterName = "@app"; p.Value = appId; cmd.Parameters.Add(p);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                userSlots[r.GetInt32(0)] = attrs.Count;
                using var doc = JsonDocument.Parse(r.GetString(1));
                attrs.Add(doc.RootElement.Clone());
            }
        }
        await using (var cmd = conn.CreateCommand())
        {
            cmd.CommandText = "SELECT ordinal, platform, push_enabled, app_version, timezone, locale, last_seen_at, user_ordinal, uninstalled_at FROM devices WHERE app_id = @app ORDER BY ordinal";
            var p = cmd.CreateParameter(); p.ParameterName = "@app"; p.Value = appId; cmd.Parameters.Add(p);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var ordinal = (uint)r.GetInt32(0);
                if (!r.IsDBNull(8)) { uninstalled.Add(ordinal); continue; }
                ords.Add(ordinal);
                platforms.Add(r.GetString(1));
                push.Add(r.GetBoolean(2));
                versions.Add(r.IsDBNull(3) ? null : r.GetString(3));
                zones.Add(r.IsDBNull(4) ? null : r.GetString(4));
                locales.Add(r.IsDBNull(5) ? null : r.GetString(5));
                seen.Add(r.GetInt64(6));
                userIndex.Add(!r.IsDBNull(7) && userSlots.TryGetValue(r.GetInt32(7), out var slot) ? slot : -1);
            }
        }
        var ordinals = ords.ToArray();
        return new ProfileSnapshot
        {
            TakenAt = now, Ordinals = ordinals, Platforms = platforms.ToArray(), PushEnabled = push.ToArray(),
            AppVersions = versions.ToArray(), Timezones = zones.ToArray(), Locales = locales.ToArray(), LastSeen = seen.ToArray(),
            UserIndex = userIndex.ToArray(), UserAttributes = attrs.ToArray(), Universe = RoaringBitmap.FromSorted(ordinals),
            MaxOrdinal = Math.Max(ordinals.Length == 0 ? -1 : ordinals[^1], uninstalled.Count == 0 ? -1 : uninstalled.Max()),
        };
    }
}
