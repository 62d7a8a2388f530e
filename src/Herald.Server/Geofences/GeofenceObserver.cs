using System.Globalization;
using System.Text.Json;
using Dapper;
using Herald.Server.Ingest;
using Herald.Server.Storage;

namespace Herald.Server.Geofences;

/// <summary>
/// Keeps what devices report: <c>geofence_enter</c> / <c>geofence_exit</c> (attribute
/// <c>geofence_id</c>) set whether the device is inside that fence, and <c>location_update</c>
/// (<c>latitude</c>, <c>longitude</c>) its last known location. The newest report by device time
/// wins, so an offline batch that arrives late does not undo a newer one. Reports naming a fence the
/// app does not have (deleted since) change nothing; the events themselves are stored as sent.
/// Registered before the real-time segments, which then see the new state.
/// </summary>
public sealed class GeofenceObserver(Db db) : IIngestObserver
{
    public async Task OnCommittedAsync(IReadOnlyList<StoredEvent> events)
    {
        var relevant = events.Where(e => e.DeviceOrdinal is not null && e.Name is BuiltInEvents.GeofenceEnter or BuiltInEvents.GeofenceExit or BuiltInEvents.LocationUpdate).ToList();
        if (relevant.Count == 0) return;
        await using var conn = await db.OpenAsync();
        var fences = new List<object>();
        var locations = new List<object>();
        foreach (var app in relevant.GroupBy(e => e.AppId))
        {
            var ids = app.Select(e => e.MessageId).ToArray();
            var properties = (await conn.QueryAsync<(string MessageId, string Properties)>(
                $"SELECT message_id, properties FROM events WHERE app_id = @appId AND {db.In("message_id", "ids")}", new { appId = app.Key, ids }))
                .ToDictionary(r => r.MessageId, r => r.Properties, StringComparer.Ordinal);
            foreach (var e in app.OrderBy(e => e.OccurredAt))
            {
                if (!properties.TryGetValue(e.MessageId, out var json)) continue;
                using var doc = JsonDocument.Parse(json);
                var p = doc.RootElement;
                if (e.Name == BuiltInEvents.LocationUpdate)
                {
                    if (Number(p, "latitude") is { } lat and >= -90 and <= 90 && Number(p, "longitude") is { } lon and >= -180 and <= 180)
                        locations.Add(new { app = app.Key, device = e.DeviceOrdinal, lat, lon, at = e.OccurredAt });
                }
                else if (Number(p, "geofence_id") is { } fence && fence == Math.Floor(fence) && fence is > 0 and < long.MaxValue)
                    fences.Add(new { app = app.Key, fence = (long)fence, device = e.DeviceOrdinal, inside = e.Name == BuiltInEvents.GeofenceEnter, at = e.OccurredAt });
            }
        }
        if (fences.Count == 0 && locations.Count == 0) return;
        await using var tx = await conn.BeginTransactionAsync();
        if (fences.Count > 0)
            await conn.ExecuteAsync(
                """
                INSERT INTO device_geofences (app_id, geofence_id, device_ordinal, inside, changed_at)
                SELECT @app, @fence, @device, @inside, @at WHERE EXISTS (SELECT 1 FROM geofences WHERE app_id = @app AND id = @fence)
                ON CONFLICT (app_id, geofence_id, device_ordinal) DO UPDATE SET inside = excluded.inside, changed_at = excluded.changed_at
                WHERE device_geofences.changed_at <= excluded.changed_at
                """, fences, tx);
        if (locations.Count > 0)
            await conn.ExecuteAsync(
                """
                UPDATE devices SET latitude = @lat, longitude = @lon, located_at = @at
                WHERE app_id = @app AND ordinal = @device AND (located_at IS NULL OR located_at <= @at)
                """, locations, tx);
        await tx.CommitAsync();
    }

    /// <summary>A number, or a string holding one (SDKs differ in how they send ids and coordinates).</summary>
    private static double? Number(JsonElement p, string name)
    {
        if (!p.TryGetProperty(name, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d)) return d;
        if (v.ValueKind == JsonValueKind.String && double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out d) && double.IsFinite(d)) return d;
        return null;
    }
}
