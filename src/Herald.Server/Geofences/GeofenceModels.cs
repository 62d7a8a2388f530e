using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Geofences;

/// <summary>A position in degrees (WGS 84).</summary>
public sealed record GeoPointDto(double? Latitude, double? Longitude);

/// <summary>A circle: centre and radius in metres.</summary>
public sealed record GeoCircleDto(double? Latitude, double? Longitude, double? Radius);

/// <summary>A rectangle between two corners; a south-west longitude east of the north-east one crosses the antimeridian.</summary>
public sealed record GeoRectangleDto(GeoPointDto? SouthWest, GeoPointDto? NorthEast);

/// <summary>A geofence as written through the REST API: exactly one of circle, rectangle and polygon.</summary>
public sealed record GeofenceRequest
{
    public string? Name { get; init; }
    public long? GroupId { get; init; }
    public bool Active { get; init; } = true;
    public GeoCircleDto? Circle { get; init; }
    public GeoRectangleDto? Rectangle { get; init; }
    /// <summary>3 to 100 vertices in order; the last joins the first. Edges may not cross.</summary>
    public IReadOnlyList<GeoPointDto>? Polygon { get; init; }
}

public sealed record GeofenceGroupRequest(string? Name);

public sealed record GeofenceGroupView(long Id, string Name, int Fences, long CreatedAt);

/// <summary>A fence with its shape, the circle a phone monitors for it, and how many devices are inside now.</summary>
public sealed record GeofenceView(
    long Id, string Name, long GroupId, string Group, string Shape, bool Active,
    GeoCircleDto? Circle, GeoRectangleDto? Rectangle, IReadOnlyList<GeoPointDto>? Polygon,
    GeoCircleDto Monitor, long DevicesInside, long CreatedAt, long UpdatedAt);

public sealed record NearbyRequest(string? InstallationId, double? Latitude, double? Longitude);

/// <summary>
/// A fence for a phone to monitor: <see cref="Monitor"/> is the region to hand the OS (iOS and Android
/// watch circles). <see cref="Exact"/> false (rectangles, polygons) means the SDK tests the shape itself
/// when the OS reports the region entered, and reports geofence_enter only inside it.
/// </summary>
public sealed record NearbyFence(
    long Id, string Name, long GroupId, string Group, string Shape, bool Exact, GeoCircleDto Monitor, double Distance,
    GeoRectangleDto? Rectangle, IReadOnlyList<GeoPointDto>? Polygon);

/// <summary>
/// The nearest fences up to the platform's region limit, the ones the position is inside, and the
/// refresh region: when the device leaves it, it asks again (null when every fence was returned).
/// </summary>
public sealed record NearbyResponse(IReadOnlyList<NearbyFence> Fences, IReadOnlyList<long> Inside, GeoCircleDto? Refresh, int Limit);

/// <summary>Herald:Geofences. Region limits are what the OSes monitor at once; one region is kept for the refresh circle.</summary>
public sealed class GeofenceOptions
{
    /// <summary>iOS monitors at most 20 regions per app.</summary>
    [Range(2, 20)]
    public int IosRegions { get; set; } = 20;
    /// <summary>Android's geofencing API allows 100 per app.</summary>
    [Range(2, 100)]
    public int AndroidRegions { get; set; } = 100;
    /// <summary>Browsers monitor nothing themselves; the web SDK checks positions against this many.</summary>
    [Range(2, 1000)]
    public int WebRegions { get; set; } = 50;
    /// <summary>Phones do not report regions smaller than about 100–200 m reliably.</summary>
    [Range(50, 100_000)]
    public double MinRefreshRadiusMeters { get; set; } = 200;
    /// <summary>How long a node keeps an app's fences in memory; writes on the node drop it at once.</summary>
    public TimeSpan CacheFor { get; set; } = TimeSpan.FromSeconds(10);
}
