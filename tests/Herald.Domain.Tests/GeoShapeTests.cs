using Herald.Domain.Geo;

namespace Herald.Domain.Tests;

public class GeoShapeTests
{
    [Fact]
    public void Haversine_distances_match_published_great_circle_figures()
    {
        // One degree of longitude on the equator: 2πR / 360.
        new GeoPoint(0, 0).DistanceTo(new GeoPoint(0, 1)).ShouldBe(111_195.08, 0.05);
        // Pole to pole: πR.
        new GeoPoint(90, 0).DistanceTo(new GeoPoint(-90, 0)).ShouldBe(Math.PI * GeoPoint.EarthRadiusMeters, 0.01);
        // Across the antimeridian the short way: 179.5°E to 179.5°W on the equator is one degree.
        new GeoPoint(0, 179.5).DistanceTo(new GeoPoint(0, -179.5)).ShouldBe(111_195.08, 0.05);
        // Symmetric, and zero to itself.
        var ist = new GeoPoint(41.0082, 28.9784);
        var ank = new GeoPoint(39.9334, 32.8597);
        ist.DistanceTo(ank).ShouldBe(ank.DistanceTo(ist), 1e-6);
        ist.DistanceTo(ist).ShouldBe(0);
        ist.DistanceTo(ank).ShouldBeInRange(349_000, 352_000); // Istanbul – Ankara, about 350 km as the crow flies
    }

    [Fact]
    public void A_circle_contains_points_up_to_its_radius()
    {
        var c = new CircleShape(new GeoPoint(40.99, 29.02), 500);
        c.Contains(new GeoPoint(40.99, 29.02)).ShouldBeTrue();
        c.Contains(new GeoPoint(40.99 + 490 / 111_195.08, 29.02)).ShouldBeTrue();
        c.Contains(new GeoPoint(40.99 + 510 / 111_195.08, 29.02)).ShouldBeFalse();
        c.DistanceFrom(new GeoPoint(40.99 + 1500 / 111_195.08, 29.02)).ShouldBe(1000, 1);
    }

    [Fact]
    public void A_rectangle_across_the_antimeridian_holds_both_sides_and_not_the_rest_of_the_world()
    {
        var fiji = new RectangleShape(new GeoPoint(-19, 177), new GeoPoint(-16, -179));
        fiji.CrossesAntimeridian.ShouldBeTrue();
        fiji.Contains(new GeoPoint(-17.7, 178.1)).ShouldBeTrue();
        fiji.Contains(new GeoPoint(-17.7, -179.5)).ShouldBeTrue();
        fiji.Contains(new GeoPoint(-17.7, 0)).ShouldBeFalse();
        fiji.Contains(new GeoPoint(-20, 178)).ShouldBeFalse();
        // Its monitored circle is centred on the antimeridian side, not on the prime meridian.
        Math.Abs(fiji.Bounds.Center.Longitude).ShouldBeGreaterThanOrEqualTo(179);
        fiji.Bounds.RadiusMeters.ShouldBeLessThan(400_000);
    }

    [Fact]
    public void A_concave_polygon_contains_exactly_what_a_grid_reference_says()
    {
        // An L shape; the reference is its two rectangles.
        var l = new PolygonShape([new(0, 0), new(0, 10), new(5, 10), new(5, 5), new(10, 5), new(10, 0)]);
        var a = new RectangleShape(new GeoPoint(0, 0), new GeoPoint(5, 10));
        var b = new RectangleShape(new GeoPoint(0, 0), new GeoPoint(10, 5));
        var rng = new Random(7);
        for (var i = 0; i < 5000; i++)
        {
            var p = new GeoPoint(rng.NextDouble() * 12 - 1, rng.NextDouble() * 12 - 1);
            // Points on an edge may go either way; keep clear of them.
            if (new[] { p.Latitude, p.Longitude }.Any(v => new[] { 0.0, 5, 10 }.Any(e => Math.Abs(v - e) < 1e-9))) continue;
            l.Contains(p).ShouldBe(a.Contains(p) || b.Contains(p), $"{p}");
        }
    }

    [Fact]
    public void A_polygon_straddling_the_antimeridian_holds_points_on_both_sides()
    {
        var p = new PolygonShape([new(-16, 179), new(-16, -179), new(-18, -179), new(-18, 179)]);
        p.Contains(new GeoPoint(-17, 179.5)).ShouldBeTrue();
        p.Contains(new GeoPoint(-17, -179.5)).ShouldBeTrue();
        p.Contains(new GeoPoint(-17, 0)).ShouldBeFalse();
        p.FirstCrossing().ShouldBeNull();
    }

    [Fact]
    public void Crossing_edges_and_degenerate_rings_are_found()
    {
        new PolygonShape([new(0, 0), new(1, 1), new(0, 1), new(1, 0)]).FirstCrossing().ShouldBe((0, 2));
        new PolygonShape([new(0, 0), new(0, 1), new(1, 1), new(1, 0)]).FirstCrossing().ShouldBeNull();
        new PolygonShape([new(0, 0), new(1, 1), new(2, 2)]).DoubleArea().ShouldBe(0, 1e-12);
        // A vertex touching a non-neighbouring edge is a crossing too (the ring pinches).
        new PolygonShape([new(0, 0), new(0, 2), new(1, 1), new(2, 2), new(2, 0), new(1, 1)]).FirstCrossing().ShouldNotBeNull();
    }

    [Fact]
    public void Monitored_circles_cover_every_point_of_random_shapes()
    {
        var rng = new Random(11);
        for (var n = 0; n < 300; n++)
        {
            var lat = rng.NextDouble() * 150 - 75;
            var lon = rng.NextDouble() * 360 - 180;
            var k = rng.Next(3, 12);
            // A star-shaped ring around (lat, lon): sorted angles, random radii, never self-crossing.
            var ring = Enumerable.Range(0, k).Select(i => (Angle: (i + rng.NextDouble() * 0.8) * 2 * Math.PI / k, R: 0.001 + rng.NextDouble() * 0.05))
                .Select(x => new GeoPoint(lat + x.R * Math.Sin(x.Angle), Wrap(lon + x.R * Math.Cos(x.Angle)))).ToList();
            var shape = new PolygonShape(ring);
            shape.FirstCrossing().ShouldBeNull();
            var bounds = shape.Bounds;
            foreach (var v in ring) bounds.Center.DistanceTo(v).ShouldBeLessThanOrEqualTo(bounds.RadiusMeters + 1e-6);
            for (var s = 0; s < 50; s++)
            {
                var p = new GeoPoint(lat + (rng.NextDouble() - 0.5) * 0.12, Wrap(lon + (rng.NextDouble() - 0.5) * 0.12));
                if (shape.Contains(p)) shape.DistanceFrom(p).ShouldBe(0);
            }
        }
    }

    private static double Wrap(double lon) => lon > 180 ? lon - 360 : lon < -180 ? lon + 360 : lon;
}
