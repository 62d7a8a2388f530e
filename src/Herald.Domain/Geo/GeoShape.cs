namespace Herald.Domain.Geo;

/// <summary>A WGS 84 position in degrees.</summary>
public readonly record struct GeoPoint(double Latitude, double Longitude)
{
    /// <summary>Mean Earth radius (IUGG), the usual choice for haversine distances.</summary>
    public const double EarthRadiusMeters = 6_371_008.8;

    public bool IsValid => Latitude is >= -90 and <= 90 && Longitude is >= -180 and <= 180 && double.IsFinite(Latitude) && double.IsFinite(Longitude);

    /// <summary>Great-circle distance in metres (haversine: better than 0.5% anywhere, exact enough for fences).</summary>
    public double DistanceTo(GeoPoint other)
    {
        var p1 = Rad(Latitude);
        var p2 = Rad(other.Latitude);
        var dp = p2 - p1;
        var dl = Rad(other.Longitude - Longitude);
        var h = Math.Sin(dp / 2) * Math.Sin(dp / 2) + Math.Cos(p1) * Math.Cos(p2) * Math.Sin(dl / 2) * Math.Sin(dl / 2);
        return 2 * EarthRadiusMeters * Math.Asin(Math.Min(1, Math.Sqrt(h)));
    }

    internal static double Rad(double degrees) => degrees * Math.PI / 180;

    /// <summary><paramref name="longitude"/> moved by whole turns to lie within 180° of <paramref name="reference"/>.</summary>
    public static double Unwrap(double longitude, double reference)
    {
        var d = longitude - reference;
        while (d > 180) d -= 360;
        while (d < -180) d += 360;
        return reference + d;
    }
}

/// <summary>A circle that covers a shape: what a phone's OS monitors (iOS and Android watch circles only).</summary>
public readonly record struct GeoCircle(GeoPoint Center, double RadiusMeters);

/// <summary>A geofence's area: a circle, a latitude/longitude rectangle, or a simple polygon.</summary>
public abstract record GeoShape
{
    public abstract bool Contains(GeoPoint p);

    /// <summary>The smallest practical circle around the shape (centre of its extent, radius to the farthest corner).</summary>
    public abstract GeoCircle Bounds { get; }

    /// <summary>
    /// Edges run straight in latitude / longitude, which bows them a little on the sphere; a circle
    /// through the farthest vertex, 1% larger, holds every point of the shape.
    /// </summary>
    protected const double Margin = 1.01;

    /// <summary>Metres from <paramref name="p"/> to the edge of <see cref="Bounds"/>; 0 inside it. Orders fences by nearness.</summary>
    public double DistanceFrom(GeoPoint p) => Math.Max(0, Bounds.Center.DistanceTo(p) - Bounds.RadiusMeters);
}

public sealed record CircleShape(GeoPoint Center, double RadiusMeters) : GeoShape
{
    public override bool Contains(GeoPoint p) => Center.DistanceTo(p) <= RadiusMeters;
    public override GeoCircle Bounds => new(Center, RadiusMeters);
}

/// <summary>
/// Between two latitudes and two longitudes. A south-west longitude east of the north-east one means
/// the rectangle crosses the antimeridian (e.g. 170° to -170°: Fiji).
/// </summary>
public sealed record RectangleShape(GeoPoint SouthWest, GeoPoint NorthEast) : GeoShape
{
    public bool CrossesAntimeridian => SouthWest.Longitude > NorthEast.Longitude;

    public override bool Contains(GeoPoint p)
    {
        if (p.Latitude < SouthWest.Latitude || p.Latitude > NorthEast.Latitude) return false;
        return CrossesAntimeridian
            ? p.Longitude >= SouthWest.Longitude || p.Longitude <= NorthEast.Longitude
            : p.Longitude >= SouthWest.Longitude && p.Longitude <= NorthEast.Longitude;
    }

    public override GeoCircle Bounds
    {
        get
        {
            var east = CrossesAntimeridian ? NorthEast.Longitude + 360 : NorthEast.Longitude;
            var center = new GeoPoint((SouthWest.Latitude + NorthEast.Latitude) / 2, Normalize((SouthWest.Longitude + east) / 2));
            GeoPoint[] corners = [SouthWest, NorthEast, new(SouthWest.Latitude, NorthEast.Longitude), new(NorthEast.Latitude, SouthWest.Longitude)];
            return new(center, corners.Max(center.DistanceTo) * Margin);
        }
    }

    internal static double Normalize(double longitude) => longitude > 180 ? longitude - 360 : longitude < -180 ? longitude + 360 : longitude;
}

/// <summary>
/// A simple polygon (no edge crosses another), vertices in order, not closed (the last joins the
/// first). Containment is an even-odd ray test on longitudes unwrapped around the first vertex, so a
/// polygon may straddle the antimeridian; fences are small enough that straight lat/lon edges are
/// what people draw.
/// </summary>
public sealed record PolygonShape(IReadOnlyList<GeoPoint> Points) : GeoShape
{
    public override bool Contains(GeoPoint p)
    {
        var reference = Points[0].Longitude;
        var x = GeoPoint.Unwrap(p.Longitude, reference);
        var inside = false;
        for (int i = 0, j = Points.Count - 1; i < Points.Count; j = i++)
        {
            double xi = GeoPoint.Unwrap(Points[i].Longitude, reference), yi = Points[i].Latitude;
            double xj = GeoPoint.Unwrap(Points[j].Longitude, reference), yj = Points[j].Latitude;
            if (yi > p.Latitude != yj > p.Latitude && x < (xj - xi) * (p.Latitude - yi) / (yj - yi) + xi) inside = !inside;
        }
        return inside;
    }

    public override GeoCircle Bounds
    {
        get
        {
            var reference = Points[0].Longitude;
            var lons = Points.Select(q => GeoPoint.Unwrap(q.Longitude, reference)).ToArray();
            var center = new GeoPoint((Points.Min(q => q.Latitude) + Points.Max(q => q.Latitude)) / 2,
                RectangleShape.Normalize((lons.Min() + lons.Max()) / 2));
            return new(center, Points.Max(center.DistanceTo) * Margin);
        }
    }

    /// <summary>Twice the signed area in unwrapped degrees² (0 for a degenerate polygon).</summary>
    public double DoubleArea()
    {
        var reference = Points[0].Longitude;
        double sum = 0;
        for (int i = 0, j = Points.Count - 1; i < Points.Count; j = i++)
            sum += GeoPoint.Unwrap(Points[j].Longitude, reference) * Points[i].Latitude - GeoPoint.Unwrap(Points[i].Longitude, reference) * Points[j].Latitude;
        return sum;
    }

    /// <summary>The first pair of edges (by index) that cross, or null for a simple polygon.</summary>
    public (int, int)? FirstCrossing()
    {
        var reference = Points[0].Longitude;
        var n = Points.Count;
        (double X, double Y) At(int k) => (GeoPoint.Unwrap(Points[k % n].Longitude, reference), Points[k % n].Latitude);
        for (var a = 0; a < n; a++)
            for (var b = a + 1; b < n; b++)
            {
                if (b == a + 1 || (a == 0 && b == n - 1)) continue; // neighbours share a vertex
                if (Cross(At(a), At(a + 1), At(b), At(b + 1))) return (a, b);
            }
        return null;
    }

    private static bool Cross((double X, double Y) p1, (double X, double Y) p2, (double X, double Y) q1, (double X, double Y) q2)
    {
        static double Orient((double X, double Y) a, (double X, double Y) b, (double X, double Y) c) => (b.X - a.X) * (c.Y - a.Y) - (b.Y - a.Y) * (c.X - a.X);
        static bool Between((double X, double Y) a, (double X, double Y) b, (double X, double Y) c) =>
            Math.Min(a.X, b.X) <= c.X && c.X <= Math.Max(a.X, b.X) && Math.Min(a.Y, b.Y) <= c.Y && c.Y <= Math.Max(a.Y, b.Y);
        double d1 = Orient(q1, q2, p1), d2 = Orient(q1, q2, p2), d3 = Orient(p1, p2, q1), d4 = Orient(p1, p2, q2);
        if ((d1 > 0 && d2 < 0 || d1 < 0 && d2 > 0) && (d3 > 0 && d4 < 0 || d3 < 0 && d4 > 0)) return true;
        return d1 == 0 && Between(q1, q2, p1) || d2 == 0 && Between(q1, q2, p2) || d3 == 0 && Between(p1, p2, q1) || d4 == 0 && Between(p1, p2, q2);
    }
}
