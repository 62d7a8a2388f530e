using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using Herald.Domain.Geo;
using Herald.Server.Accounts;
using Herald.Server.Geofences;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>
/// Geofences (R-GEO-1): a map of the app's fences drawn as SVG, its groups and fences with how many
/// devices are inside each, and a form for a circle, rectangle or polygon — saved through
/// <see cref="GeofenceService"/> with the REST API's checks, and audited.
/// </summary>
public sealed class GeofencesModel(AccountService accounts, GeofenceService geofences) : PanelPage(accounts)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    public override string Section => "geofences";
    public IReadOnlyList<GeofenceGroupView> Groups { get; private set; } = [];
    public IReadOnlyList<GeofenceView> Fences { get; private set; } = [];
    /// <summary>The fence being edited (?edit=id), else null for a new one.</summary>
    [BindProperty(SupportsGet = true)]
    public long? Edit { get; set; }
    /// <summary>The form's values: the fence being edited, or what was sent when it was refused.</summary>
    public Dictionary<string, string?> Form { get; private set; } = new() { ["shape"] = "circle", ["radius"] = "200" };

    public async Task<IActionResult> OnGetAsync()
    {
        await LoadAsync();
        if (Edit is { } id)
        {
            if (Fences.FirstOrDefault(f => f.Id == id) is not { } f) return NotFound();
            Form = FormOf(f);
        }
        return Page();
    }

    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostGroupAsync(string? groupName)
    {
        GeofenceGroupView? g = null;
        if (await TryAsync(async () => g = await geofences.CreateGroupAsync(AppId, new GeofenceGroupRequest(groupName), HttpContext.RequestAborted)))
        {
            await AuditAsync("geofence.group.create", $"{g!.Name} (#{g.Id})");
            Flash = $"Group “{g.Name}” created.";
        }
        return await OnGetAsync();
    }

    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostDeleteGroupAsync(long groupId)
    {
        if (await TryAsync(() => geofences.DeleteGroupAsync(AppId, groupId, HttpContext.RequestAborted)))
        {
            await AuditAsync("geofence.group.delete", $"#{groupId}");
            Flash = "Group and its fences deleted.";
        }
        return await OnGetAsync();
    }

    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostSaveAsync()
    {
        var f = HttpContext.Request.Form;
        Form = f.Keys.ToDictionary(k => k, k => (string?)f[k].ToString());
        GeofenceView? saved = null;
        if (await TryAsync(async () =>
            {
                var request = Read(f);
                saved = Edit is { } id
                    ? await geofences.UpdateAsync(AppId, id, request, HttpContext.RequestAborted)
                    : await geofences.CreateAsync(AppId, request, HttpContext.RequestAborted);
            }))
        {
            await AuditAsync(Edit is null ? "geofence.create" : "geofence.update", $"{saved!.Name} (#{saved.Id}, {saved.Shape})");
            return Redirect($"/panel/apps/{AppId}/geofences");
        }
        await LoadAsync();
        return Page();
    }

    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostDeleteAsync(long fenceId)
    {
        if (await TryAsync(() => geofences.DeleteAsync(AppId, fenceId, HttpContext.RequestAborted)))
        {
            await AuditAsync("geofence.delete", $"#{fenceId}");
            Flash = "Geofence deleted.";
        }
        Edit = null;
        return await OnGetAsync();
    }

    private async Task LoadAsync()
    {
        Groups = await geofences.ListGroupsAsync(AppId, HttpContext.RequestAborted);
        Fences = await geofences.ListAsync(AppId, null, HttpContext.RequestAborted);
    }

    private static string? F(IFormCollection f, string key) => string.IsNullOrWhiteSpace(f[key]) ? null : f[key].ToString().Trim();

    /// <summary>A number typed in a form field; something else is refused naming the field as the REST API would.</summary>
    private static double? Number(IFormCollection f, string key, string field)
    {
        if (F(f, key) is not { } s) return null;
        return double.TryParse(s.Replace(',', '.'), NumberStyles.Float, Inv, out var d) ? d
            : throw Infrastructure.ProblemException.BadRequest($"{field}: '{s}' is not a number.", field);
    }

    /// <summary>The form as the REST API's request; the polygon is one "latitude, longitude" per line.</summary>
    internal static GeofenceRequest Read(IFormCollection f)
    {
        var shape = F(f, "shape") ?? "circle";
        var request = new GeofenceRequest
        {
            Name = F(f, "name"),
            GroupId = long.TryParse(F(f, "groupId"), out var g) ? g : null,
            Active = f["active"] == "on",
        };
        return shape switch
        {
            "rectangle" => request with
            {
                Rectangle = new GeoRectangleDto(
                    new GeoPointDto(Number(f, "swLatitude", "rectangle.southWest.latitude"), Number(f, "swLongitude", "rectangle.southWest.longitude")),
                    new GeoPointDto(Number(f, "neLatitude", "rectangle.northEast.latitude"), Number(f, "neLongitude", "rectangle.northEast.longitude"))),
            },
            "polygon" => request with { Polygon = Points(F(f, "points") ?? "") },
            _ => request with { Circle = new GeoCircleDto(Number(f, "latitude", "circle.latitude"), Number(f, "longitude", "circle.longitude"), Number(f, "radius", "circle.radius")) },
        };
    }

    private static List<GeoPointDto> Points(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length > GeofenceService.MaxPolygonPoints)
            throw Infrastructure.ProblemException.BadRequest($"polygon has {lines.Length} points; 3 to {GeofenceService.MaxPolygonPoints}.", "polygon", GeofenceService.MaxPolygonPoints);
        return [.. lines.Select((line, i) =>
        {
            var parts = line.Split([',', ';', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2 || !double.TryParse(parts[0], NumberStyles.Float, Inv, out var lat) || !double.TryParse(parts[1], NumberStyles.Float, Inv, out var lon))
                throw Infrastructure.ProblemException.BadRequest($"polygon line {i + 1} is '{line}'; write one point per line as: latitude, longitude.", $"polygon[{i}]");
            return new GeoPointDto(lat, lon);
        })];
    }

    private static Dictionary<string, string?> FormOf(GeofenceView f)
    {
        string S(double? d) => d?.ToString("0.#######", Inv) ?? "";
        var form = new Dictionary<string, string?> { ["name"] = f.Name, ["groupId"] = f.GroupId.ToString(Inv), ["shape"] = f.Shape, ["active"] = f.Active ? "on" : null, ["radius"] = "200" };
        if (f.Circle is { } c) { form["latitude"] = S(c.Latitude); form["longitude"] = S(c.Longitude); form["radius"] = S(c.Radius); }
        if (f.Rectangle is { } r)
        {
            form["swLatitude"] = S(r.SouthWest?.Latitude); form["swLongitude"] = S(r.SouthWest?.Longitude);
            form["neLatitude"] = S(r.NorthEast?.Latitude); form["neLongitude"] = S(r.NorthEast?.Longitude);
        }
        if (f.Polygon is { } p) form["points"] = string.Join('\n', p.Select(x => $"{S(x.Latitude)}, {S(x.Longitude)}"));
        return form;
    }

    /// <summary>How big a fence is, in a few words.</summary>
    public static string Size(GeofenceView f) => f.Shape switch
    {
        "circle" => $"{f.Circle!.Radius!.Value.ToString("N0", Inv)} m radius",
        "polygon" => $"{f.Polygon!.Count} points, within {f.Monitor.Radius!.Value.ToString("N0", Inv)} m",
        _ => $"within {f.Monitor.Radius!.Value.ToString("N0", Inv)} m of its centre",
    };

    private static readonly string[] Palette = ["#1a73e8", "#e8710a", "#188038", "#a142f4", "#d93025", "#007b83", "#b06000", "#c5221f"];

    public string Colour(long groupId)
    {
        var i = Groups.Select((g, k) => (g.Id, k)).FirstOrDefault(x => x.Id == groupId).k;
        return Palette[i % Palette.Length];
    }

    /// <summary>
    /// The fences on a plain map: an equirectangular projection around their middle (longitudes
    /// shrunk by the cosine of the latitude, so shapes keep their proportions), each shape outlined in
    /// its group's colour and named; a scale bar gives the distances.
    /// </summary>
    public string MapSvg()
    {
        const double W = 760, H = 380, Pad = 28;
        if (Fences.Count == 0) return "";
        var shapes = Fences.Select(f => (Fence: f, Ring: Ring(f))).ToList();
        var reference = shapes[0].Ring[0].Longitude;
        var all = shapes.SelectMany(s => s.Ring).Select(p => (Lat: p.Latitude, Lon: GeoPoint.Unwrap(p.Longitude, reference))).ToList();
        double south = all.Min(p => p.Lat), north = all.Max(p => p.Lat), west = all.Min(p => p.Lon), east = all.Max(p => p.Lon);
        var k = Math.Cos((south + north) / 2 * Math.PI / 180);
        var spanX = Math.Max((east - west) * k, 1e-6);
        var spanY = Math.Max(north - south, 1e-6);
        var scale = Math.Min((W - 2 * Pad) / spanX, (H - 2 * Pad) / spanY);
        double offX = (W - spanX * scale) / 2, offY = (H - spanY * scale) / 2;
        (double X, double Y) At(GeoPoint p) => (offX + (GeoPoint.Unwrap(p.Longitude, reference) - west) * k * scale, offY + (north - p.Latitude) * scale);
        var svg = new StringBuilder();
        svg.Append(Inv, $"<svg id=\"geofence-map\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Map of {Fences.Count} geofences\" class=\"chart map\">");
        svg.Append(Inv, $"<rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#f4f7f4\" stroke=\"#d5dbd5\"/>");
        foreach (var (f, ring) in shapes)
        {
            var colour = Colour(f.GroupId);
            var points = string.Join(' ', ring.Select(p => { var (x, y) = At(p); return string.Create(Inv, $"{x:0.#},{y:0.#}"); }));
            svg.Append(Inv, $"<polygon points=\"{points}\" fill=\"{colour}\" fill-opacity=\"{(f.Active ? 0.22 : 0.06)}\" stroke=\"{colour}\" stroke-width=\"1.5\"{(f.Active ? "" : " stroke-dasharray=\"4 3\"")}><title>{HtmlEncoder.Default.Encode(f.Name)}</title></polygon>");
            var (cx, cy) = At(new GeoPoint(f.Monitor.Latitude!.Value, f.Monitor.Longitude!.Value));
            svg.Append(Inv, $"<text x=\"{cx:0.#}\" y=\"{cy:0.#}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#202124\">{HtmlEncoder.Default.Encode(f.Name)}</text>");
        }
        // Scale bar: a round distance near a fifth of the width.
        var metresPerPixel = 111_195.0 / scale;
        var target = metresPerPixel * W / 5;
        var bar = new[] { 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000 }.LastOrDefault(m => m <= target, 10);
        var px = bar / metresPerPixel;
        svg.Append(Inv, $"<line x1=\"12\" y1=\"{H - 14}\" x2=\"{12 + px:0.#}\" y2=\"{H - 14}\" stroke=\"#202124\" stroke-width=\"2\"/>");
        svg.Append(Inv, $"<text x=\"12\" y=\"{H - 20}\" font-size=\"11\" fill=\"#202124\">{(bar >= 1000 ? $"{bar / 1000} km" : $"{bar} m")}</text>");
        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>A fence's outline as points: circles as 48-gons on the sphere.</summary>
    private static List<GeoPoint> Ring(GeofenceView f)
    {
        if (f.Circle is { } c)
        {
            var (lat, lon, r) = (c.Latitude!.Value, c.Longitude!.Value, c.Radius!.Value);
            return [.. Enumerable.Range(0, 48).Select(i =>
            {
                var a = i * 2 * Math.PI / 48;
                return new GeoPoint(lat + r * Math.Cos(a) / 111_195, lon + r * Math.Sin(a) / (111_195 * Math.Max(Math.Cos(lat * Math.PI / 180), 1e-6)));
            })];
        }
        if (f.Rectangle is { } rect)
        {
            double s = rect.SouthWest!.Latitude!.Value, w = rect.SouthWest.Longitude!.Value, n = rect.NorthEast!.Latitude!.Value, e = rect.NorthEast.Longitude!.Value;
            return [new(s, w), new(n, w), new(n, e), new(s, e)];
        }
        return [.. f.Polygon!.Select(p => new GeoPoint(p.Latitude!.Value, p.Longitude!.Value))];
    }
}
