using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Herald.Domain.Analytics;
using Herald.Domain.Geo;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Geofences;

/// <summary>
/// Geofences (R-GEO-1): groups and fences written through the REST API and the panel, checked when
/// written; the nearest fences for a device's position (each device gets the few its OS can monitor,
/// refreshed as it moves); and which devices are inside which fence, for segments and targeting.
/// </summary>
public sealed class GeofenceService(Db db, IOptions<GeofenceOptions> options, TimeProvider clock)
{
    public const int MaxName = 200, MaxPolygonPoints = 100, MaxFencesPerApp = 10_000, MaxGroupsPerApp = 1_000;
    public const double MinRadius = 10, MaxRadius = 100_000;
    public static readonly string[] Shapes = ["circle", "rectangle", "polygon"];
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ConcurrentDictionary<long, (long LoadedAt, IReadOnlyList<Fence> Fences)> _cache = new();
    private GeofenceOptions O => options.Value;

    /// <summary>A fence as kept in memory: the request's shape, the geometry built from it, its group's name.</summary>
    public sealed record Fence(long Id, string Name, long GroupId, string Group, bool Active, GeofenceRequest Definition, GeoShape Shape, long CreatedAt, long UpdatedAt)
    {
        public string Kind => Shape switch { CircleShape => "circle", RectangleShape => "rectangle", _ => "polygon" };
    }

    private sealed class Row
    {
        public long Id { get; init; }
        public string Name { get; init; } = "";
        public long GroupId { get; init; }
        public string Group { get; init; } = "";
        public bool Active { get; init; }
        public string Definition { get; init; } = "{}";
        public long CreatedAt { get; init; }
        public long UpdatedAt { get; init; }
    }

    private const string FenceRows = """
        SELECT f.id AS Id, f.name AS Name, f.group_id AS GroupId, g.name AS "Group", f.active AS Active, f.definition AS Definition,
               f.created_at AS CreatedAt, f.updated_at AS UpdatedAt
        FROM geofences f JOIN geofence_groups g ON g.app_id = f.app_id AND g.id = f.group_id
        """;

    // ---- groups

    public async Task<GeofenceGroupView> CreateGroupAsync(long appId, GeofenceGroupRequest request, CancellationToken ct)
    {
        var name = GroupName(request.Name);
        var now = Now;
        await using var conn = await db.OpenAsync(ct);
        if (await conn.ExecuteScalarAsync<long>("SELECT count(*) FROM geofence_groups WHERE app_id = @appId", new { appId }) >= MaxGroupsPerApp)
            throw ProblemException.Unprocessable($"An app has at most {MaxGroupsPerApp} geofence groups.", "name", MaxGroupsPerApp);
        await RefuseTakenAsync(conn, appId, name, null);
        var id = await conn.ExecuteScalarAsync<long>(
            "INSERT INTO geofence_groups (app_id, name, created_at) VALUES (@appId, @name, @now) RETURNING id", new { appId, name, now });
        return new GeofenceGroupView(id, name, 0, now);
    }

    public async Task<GeofenceGroupView> RenameGroupAsync(long appId, long id, GeofenceGroupRequest request, CancellationToken ct)
    {
        var name = GroupName(request.Name);
        await using (var conn = await db.OpenAsync(ct))
        {
            await RefuseTakenAsync(conn, appId, name, id);
            if (await conn.ExecuteAsync("UPDATE geofence_groups SET name = @name WHERE app_id = @appId AND id = @id", new { appId, id, name }) == 0)
                throw ProblemException.NotFound($"Geofence group {id}");
        }
        Forget(appId);
        return (await ListGroupsAsync(appId, ct)).Single(g => g.Id == id);
    }

    public async Task<IReadOnlyList<GeofenceGroupView>> ListGroupsAsync(long appId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<(long Id, string Name, long Fences, long CreatedAt)>(
            """
            SELECT g.id, g.name, (SELECT count(*) FROM geofences f WHERE f.app_id = g.app_id AND f.group_id = g.id), g.created_at
            FROM geofence_groups g WHERE g.app_id = @appId ORDER BY g.name, g.id
            """, new { appId });
        return [.. rows.Select(r => new GeofenceGroupView(r.Id, r.Name, (int)r.Fences, r.CreatedAt))];
    }

    /// <summary>Deletes the group with its fences (and who was inside them).</summary>
    public async Task DeleteGroupAsync(long appId, long id, CancellationToken ct)
    {
        await using (var conn = await db.OpenAsync(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            await conn.ExecuteAsync(
                "DELETE FROM device_geofences WHERE app_id = @appId AND geofence_id IN (SELECT id FROM geofences WHERE app_id = @appId AND group_id = @id)",
                new { appId, id }, tx);
            await conn.ExecuteAsync("DELETE FROM geofences WHERE app_id = @appId AND group_id = @id", new { appId, id }, tx);
            if (await conn.ExecuteAsync("DELETE FROM geofence_groups WHERE app_id = @appId AND id = @id", new { appId, id }, tx) == 0)
                throw ProblemException.NotFound($"Geofence group {id}");
            await tx.CommitAsync(ct);
        }
        Forget(appId);
    }

    private static string GroupName(string? name)
    {
        name = name?.Trim();
        if (string.IsNullOrEmpty(name)) throw ProblemException.BadRequest("name is required.", "name");
        if (name.Length > MaxName) throw ProblemException.BadRequest($"name is {name.Length} characters; at most {MaxName}.", "name", MaxName);
        return name;
    }

    private static async Task RefuseTakenAsync(System.Data.Common.DbConnection conn, long appId, string name, long? except)
    {
        if (await conn.ExecuteScalarAsync<long?>("SELECT id FROM geofence_groups WHERE app_id = @appId AND name = @name", new { appId, name }) is { } other && other != except)
            throw new ProblemException(StatusCodes.Status409Conflict, "Name taken", $"The app already has a geofence group named '{name}' (#{other}).", "name");
    }

    // ---- fences

    public async Task<GeofenceView> CreateAsync(long appId, GeofenceRequest request, CancellationToken ct)
    {
        var (name, shape, definition) = Validate(request);
        var now = Now;
        long id;
        await using (var conn = await db.OpenAsync(ct))
        {
            await GroupExistsAsync(conn, appId, request.GroupId!.Value);
            if (await conn.ExecuteScalarAsync<long>("SELECT count(*) FROM geofences WHERE app_id = @appId", new { appId }) >= MaxFencesPerApp)
                throw ProblemException.Unprocessable($"An app has at most {MaxFencesPerApp} geofences.", "name", MaxFencesPerApp);
            id = await conn.ExecuteScalarAsync<long>(
                """
                INSERT INTO geofences (app_id, group_id, name, shape, definition, active, created_at, updated_at)
                VALUES (@appId, @groupId, @name, @shape, @definition, @active, @now, @now) RETURNING id
                """, new { appId, groupId = request.GroupId, name, shape, definition, active = request.Active, now });
        }
        Forget(appId);
        return await GetAsync(appId, id, ct);
    }

    public async Task<GeofenceView> UpdateAsync(long appId, long id, GeofenceRequest request, CancellationToken ct)
    {
        var (name, shape, definition) = Validate(request);
        await using (var conn = await db.OpenAsync(ct))
        {
            await GroupExistsAsync(conn, appId, request.GroupId!.Value);
            if (await conn.ExecuteAsync(
                    """
                    UPDATE geofences SET group_id = @groupId, name = @name, shape = @shape, definition = @definition, active = @active, updated_at = @now
                    WHERE app_id = @appId AND id = @id
                    """, new { appId, id, groupId = request.GroupId, name, shape, definition, active = request.Active, now = Now }) == 0)
                throw ProblemException.NotFound($"Geofence {id}");
        }
        Forget(appId);
        return await GetAsync(appId, id, ct);
    }

    public async Task DeleteAsync(long appId, long id, CancellationToken ct)
    {
        await using (var conn = await db.OpenAsync(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            await conn.ExecuteAsync("DELETE FROM device_geofences WHERE app_id = @appId AND geofence_id = @id", new { appId, id }, tx);
            if (await conn.ExecuteAsync("DELETE FROM geofences WHERE app_id = @appId AND id = @id", new { appId, id }, tx) == 0)
                throw ProblemException.NotFound($"Geofence {id}");
            await tx.CommitAsync(ct);
        }
        Forget(appId);
    }

    public async Task<GeofenceView> GetAsync(long appId, long id, CancellationToken ct) =>
        (await ListAsync(appId, null, ct, id)).SingleOrDefault() ?? throw ProblemException.NotFound($"Geofence {id}");

    public async Task<IReadOnlyList<GeofenceView>> ListAsync(long appId, long? groupId, CancellationToken ct, long? id = null)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<Row>(
            $"""
            {FenceRows}
            WHERE f.app_id = @appId{(groupId is null ? "" : " AND f.group_id = @groupId")}{(id is null ? "" : " AND f.id = @id")}
            ORDER BY g.name, f.name, f.id
            """, new { appId, groupId, id });
        var inside = (await conn.QueryAsync<(long Fence, long Devices)>(
            $"""
            SELECT geofence_id, count(*) FROM device_geofences
            WHERE app_id = @appId AND inside = @yes{(id is null ? "" : " AND geofence_id = @id")} GROUP BY geofence_id
            """, new { appId, yes = true, id })).ToDictionary(r => r.Fence, r => r.Devices);
        return [.. rows.Select(ToFence).Select(f => View(f, inside.GetValueOrDefault(f.Id)))];
    }

    private static async Task GroupExistsAsync(System.Data.Common.DbConnection conn, long appId, long groupId)
    {
        if (await conn.ExecuteScalarAsync<long>("SELECT count(*) FROM geofence_groups WHERE app_id = @appId AND id = @groupId", new { appId, groupId }) == 0)
            throw ProblemException.BadRequest($"groupId {groupId} is not a geofence group of this app; create one with POST /api/v1/geofences/groups.", "groupId");
    }

    /// <summary>Checks a fence; every problem names its field and the limit.</summary>
    public static (string Name, string Shape, string Definition) Validate(GeofenceRequest r)
    {
        var name = r.Name?.Trim();
        if (string.IsNullOrEmpty(name)) throw ProblemException.BadRequest("name is required.", "name");
        if (name.Length > MaxName) throw ProblemException.BadRequest($"name is {name.Length} characters; at most {MaxName}.", "name", MaxName);
        if (r.GroupId is not > 0) throw ProblemException.BadRequest("groupId is required: the id of one of the app's geofence groups.", "groupId");
        var given = new[] { ("circle", r.Circle is not null), ("rectangle", r.Rectangle is not null), ("polygon", r.Polygon is not null) }.Where(x => x.Item2).Select(x => x.Item1).ToList();
        if (given.Count != 1)
            throw ProblemException.BadRequest(given.Count == 0
                ? "A geofence needs a shape: circle, rectangle or polygon."
                : $"A geofence has one shape; got {string.Join(" and ", given)}.", given.Count == 0 ? "circle" : given[1]);
        Build(r);
        var stored = new GeofenceRequest { Circle = r.Circle, Rectangle = r.Rectangle, Polygon = r.Polygon };
        return (name, given[0], JsonSerializer.Serialize(stored, Json));
    }

    /// <summary>The geometry of a request, refusing what is not a usable fence.</summary>
    public static GeoShape Build(GeofenceRequest r)
    {
        if (r.Circle is { } c)
        {
            var center = Point(c.Latitude, c.Longitude, "circle");
            if (c.Radius is not { } radius || !double.IsFinite(radius) || radius < MinRadius || radius > MaxRadius)
                throw ProblemException.BadRequest($"circle.radius must be {MinRadius} to {MaxRadius} metres; got {c.Radius?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "nothing"}.", "circle.radius", MaxRadius);
            return new CircleShape(center, radius);
        }
        if (r.Rectangle is { } rect)
        {
            var sw = Point(rect.SouthWest?.Latitude, rect.SouthWest?.Longitude, "rectangle.southWest");
            var ne = Point(rect.NorthEast?.Latitude, rect.NorthEast?.Longitude, "rectangle.northEast");
            if (sw.Latitude >= ne.Latitude)
                throw ProblemException.BadRequest("rectangle.southWest.latitude must be south of (below) rectangle.northEast.latitude.", "rectangle.southWest.latitude");
            if (sw.Longitude == ne.Longitude)
                throw ProblemException.BadRequest("rectangle.southWest.longitude and rectangle.northEast.longitude must differ.", "rectangle.northEast.longitude");
            var shape = new RectangleShape(sw, ne);
            if (shape.Bounds.RadiusMeters > MaxRadius)
                throw ProblemException.BadRequest($"The rectangle is {shape.Bounds.RadiusMeters / 1000:0} km from centre to corner; at most {MaxRadius / 1000:0} km.", "rectangle", MaxRadius);
            return shape;
        }
        var points = r.Polygon!;
        if (points.Count is < 3 or > MaxPolygonPoints)
            throw ProblemException.BadRequest($"polygon has {points.Count} points; 3 to {MaxPolygonPoints}.", "polygon", MaxPolygonPoints);
        var ps = points.Select((p, i) => Point(p?.Latitude, p?.Longitude, $"polygon[{i}]")).ToList();
        if (ps[0] == ps[^1] && ps.Count > 3) ps.RemoveAt(ps.Count - 1); // a closed ring as GeoJSON writes it
        var polygon = new PolygonShape(ps);
        if (polygon.FirstCrossing() is var (a, b))
            throw ProblemException.BadRequest($"polygon's edges cross: the edge from point {a} and the edge from point {b}; a fence is a simple polygon.", $"polygon[{b}]");
        if (Math.Abs(polygon.DoubleArea()) < 1e-12)
            throw ProblemException.BadRequest("polygon encloses no area (its points are on one line).", "polygon");
        if (polygon.Bounds.RadiusMeters > MaxRadius)
            throw ProblemException.BadRequest($"The polygon is {polygon.Bounds.RadiusMeters / 1000:0} km from centre to its farthest point; at most {MaxRadius / 1000:0} km.", "polygon", MaxRadius);
        return polygon;
    }

    private static GeoPoint Point(double? lat, double? lon, string field)
    {
        if (lat is not { } la || !double.IsFinite(la) || la is < -90 or > 90)
            throw ProblemException.BadRequest($"{field}.latitude must be a number from -90 to 90.", $"{field}.latitude", 90);
        if (lon is not { } lo || !double.IsFinite(lo) || lo is < -180 or > 180)
            throw ProblemException.BadRequest($"{field}.longitude must be a number from -180 to 180.", $"{field}.longitude", 180);
        return new GeoPoint(la, lo);
    }

    private static Fence ToFence(Row r)
    {
        var d = JsonSerializer.Deserialize<GeofenceRequest>(r.Definition, Json)!;
        return new Fence(r.Id, r.Name, r.GroupId, r.Group, r.Active, d, Build(d), r.CreatedAt, r.UpdatedAt);
    }

    private static GeofenceView View(Fence f, long inside) => new(
        f.Id, f.Name, f.GroupId, f.Group, f.Kind, f.Active, f.Definition.Circle, f.Definition.Rectangle, f.Definition.Polygon,
        Circle(f.Shape.Bounds), inside, f.CreatedAt, f.UpdatedAt);

    private static GeoCircleDto Circle(GeoCircle c) => new(Math.Round(c.Center.Latitude, 7), Math.Round(c.Center.Longitude, 7), Math.Ceiling(c.RadiusMeters));

    // ---- devices

    /// <summary>
    /// The fences nearest to a device's position, as many as its OS monitors less one: that slot is
    /// the refresh circle, which reaches no nearer than the first fence left out, so the device asks
    /// again before it could get to a fence it does not watch. The position is kept as the device's location.
    /// </summary>
    public async Task<NearbyResponse> NearbyAsync(long appId, NearbyRequest request, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.InstallationId)) throw ProblemException.BadRequest("installationId is required.", "installationId");
        if (request.InstallationId.Length > 64) throw ProblemException.BadRequest("installationId is longer than 64 characters.", "installationId", 64);
        var here = Point(request.Latitude, request.Longitude, "position");
        string? platform;
        await using (var conn = await db.OpenAsync(ct))
        {
            platform = await conn.QueryFirstOrDefaultAsync<string?>(
                "SELECT platform FROM devices WHERE app_id = @appId AND installation_id = @id", new { appId, id = request.InstallationId })
                ?? throw ProblemException.NotFound($"Installation '{request.InstallationId}'");
            await conn.ExecuteAsync(
                "UPDATE devices SET latitude = @lat, longitude = @lon, located_at = @now WHERE app_id = @appId AND installation_id = @id",
                new { appId, id = request.InstallationId, lat = here.Latitude, lon = here.Longitude, now = Now });
        }
        var limit = platform switch { "ios" => O.IosRegions, "android" => O.AndroidRegions, _ => O.WebRegions };
        var fences = (await FencesAsync(appId, ct)).Where(f => f.Active)
            .Select(f => (Fence: f, Distance: f.Shape.DistanceFrom(here))).OrderBy(x => x.Distance).ThenBy(x => x.Fence.Id).ToList();
        var take = fences.Count <= limit ? fences.Count : limit - 1;
        GeoCircleDto? refresh = null;
        if (take < fences.Count)
            refresh = new(here.Latitude, here.Longitude, Math.Floor(Math.Max(O.MinRefreshRadiusMeters, fences[take].Distance)));
        var chosen = fences.Take(take).ToList();
        return new NearbyResponse(
            [.. chosen.Select(x => new NearbyFence(x.Fence.Id, x.Fence.Name, x.Fence.GroupId, x.Fence.Group, x.Fence.Kind, x.Fence.Shape is CircleShape,
                Circle(x.Fence.Shape.Bounds), Math.Round(x.Distance, 1), x.Fence.Definition.Rectangle, x.Fence.Definition.Polygon))],
            [.. chosen.Where(x => x.Fence.Shape.Contains(here)).Select(x => x.Fence.Id)],
            refresh, limit);
    }

    /// <summary>The app's fences (active or not), from memory when loaded recently on this node.</summary>
    public async Task<IReadOnlyList<Fence>> FencesAsync(long appId, CancellationToken ct)
    {
        var now = clock.GetTimestamp();
        if (_cache.TryGetValue(appId, out var hit) && clock.GetElapsedTime(hit.LoadedAt, now) < O.CacheFor) return hit.Fences;
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<Row>(
            $"""
            {FenceRows}
            WHERE f.app_id = @appId ORDER BY f.id
            """, new { appId });
        IReadOnlyList<Fence> fences = [.. rows.Select(ToFence)];
        _cache[appId] = (now, fences);
        return fences;
    }

    private void Forget(long appId) => _cache.TryRemove(appId, out _);

    /// <summary>Devices whose last report for any of the fences (or any fence of the group) says inside.</summary>
    public async Task<RoaringBitmap> InsideAsync(long appId, long? fenceId, long? groupId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var ordinals = await conn.QueryAsync<int>(
            fenceId is not null
                ? "SELECT device_ordinal FROM device_geofences WHERE app_id = @appId AND geofence_id = @fenceId AND inside = @yes ORDER BY device_ordinal"
                : """
                  SELECT DISTINCT d.device_ordinal FROM device_geofences d JOIN geofences f ON f.app_id = d.app_id AND f.id = d.geofence_id
                  WHERE d.app_id = @appId AND f.group_id = @groupId AND d.inside = @yes ORDER BY d.device_ordinal
                  """, new { appId, fenceId, groupId, yes = true });
        return RoaringBitmap.FromSorted([.. ordinals.Select(o => (uint)o)]);
    }

    /// <summary>Devices whose last known location is within <paramref name="radius"/> metres of the point.</summary>
    public async Task<RoaringBitmap> NearAsync(long appId, GeoPoint center, double radius, CancellationToken ct)
    {
        // A latitude band first (one degree is at least 110.5 km), then the exact distance.
        var band = radius / 110_500;
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<(int Ordinal, double Lat, double Lon)>(
            """
            SELECT ordinal, latitude, longitude FROM devices
            WHERE app_id = @appId AND latitude BETWEEN @south AND @north AND longitude IS NOT NULL ORDER BY ordinal
            """, new { appId, south = center.Latitude - band, north = center.Latitude + band });
        return RoaringBitmap.FromSorted([.. rows.Where(r => center.DistanceTo(new GeoPoint(r.Lat, r.Lon)) <= radius).Select(r => (uint)r.Ordinal)]);
    }

    /// <summary>Whether the fence (or group) is the app's: segment rules naming one are checked when saved.</summary>
    public async Task<bool> ExistsAsync(long appId, long? fenceId, long? groupId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        return await conn.ExecuteScalarAsync<long>(
            fenceId is not null ? "SELECT count(*) FROM geofences WHERE app_id = @appId AND id = @fenceId"
                                : "SELECT count(*) FROM geofence_groups WHERE app_id = @appId AND id = @groupId",
            new { appId, fenceId, groupId }) > 0;
    }

    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();
}
