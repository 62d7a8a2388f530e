using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using Herald.Server.Infrastructure;
using Herald.Server.Segments;
using Herald.Server.Storage;

namespace Herald.Server.Widgets;

/// <summary>Widget definitions (R-MSG-13): checked when written, filtered per visitor when read by an SDK.</summary>
public sealed partial class WidgetService(Db db, WidgetAssets assets, SegmentService segments, TimeProvider clock)
{
    /// <summary>Keys are 24 characters today; this bounds what a caller may send.</summary>
    public const int MaxAssetKey = 64;
    public const int MaxName = 200, MaxTitle = 200, MaxText = 2000, MaxButtons = 3, MaxButtonText = 60, MaxPattern = 512, MaxTarget = 2048;
    public static readonly string[] Positions = ["center", "top", "bottom", "bottom-right", "bottom-left"];
    public static readonly string[] Actions = ["url", "deeplink", "dismiss"];
    public static readonly string[] Frequencies = ["always", "once_per_session", "once"];
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private sealed record Definition(WidgetLayout Layout, WidgetRules Rules);

    private sealed class Row
    {
        public long Id { get; init; }
        public string Name { get; init; } = "";
        public bool Active { get; init; }
        public string Definition { get; init; } = "{}";
        public long CreatedAt { get; init; }
        public long UpdatedAt { get; init; }
    }

    private const string Columns = "id AS Id, name AS Name, active AS Active, definition AS Definition, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public async Task<WidgetView> CreateAsync(long appId, WidgetRequest request, CancellationToken ct)
    {
        var (name, definition) = await ValidateAsync(appId, request, ct);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        var id = await conn.ExecuteScalarAsync<long>(
            "INSERT INTO widgets (app_id, name, active, definition, created_at, updated_at) VALUES (@appId, @name, @active, @definition, @now, @now) RETURNING id",
            new { appId, name, active = request.Active, definition = JsonSerializer.Serialize(definition, Json), now });
        return new WidgetView(id, name, request.Active, definition.Layout, definition.Rules, now, now);
    }

    public async Task<WidgetView> UpdateAsync(long appId, long id, WidgetRequest request, CancellationToken ct)
    {
        var (name, definition) = await ValidateAsync(appId, request, ct);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        var n = await conn.ExecuteAsync(
            "UPDATE widgets SET name = @name, active = @active, definition = @definition, updated_at = @now WHERE app_id = @appId AND id = @id",
            new { appId, id, name, active = request.Active, definition = JsonSerializer.Serialize(definition, Json), now });
        if (n == 0) throw ProblemException.NotFound($"Widget {id}");
        return await GetAsync(appId, id, ct);
    }

    public async Task<WidgetView> GetAsync(long appId, long id, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var row = await conn.QueryFirstOrDefaultAsync<Row>($"SELECT {Columns} FROM widgets WHERE app_id = @appId AND id = @id", new { appId, id });
        return row is null ? throw ProblemException.NotFound($"Widget {id}") : View(row);
    }

    public async Task<IReadOnlyList<WidgetView>> ListAsync(long appId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<Row>($"SELECT {Columns} FROM widgets WHERE app_id = @appId ORDER BY id", new { appId });
        return [.. rows.Select(View)];
    }

    public async Task DeleteAsync(long appId, long id, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        if (await conn.ExecuteAsync("DELETE FROM widgets WHERE app_id = @appId AND id = @id", new { appId, id }) == 0)
            throw ProblemException.NotFound($"Widget {id}");
    }

    /// <summary>
    /// Deletes an uploaded asset of the app. One that a widget still shows is refused (409) naming
    /// the widgets; choose another file for them first.
    /// </summary>
    public async Task DeleteAssetAsync(long appId, string key, CancellationToken ct)
    {
        if (key.Length > MaxAssetKey || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw ProblemException.BadRequest($"key must be an asset key as the upload answered it: URL-safe base64, at most {MaxAssetKey} characters.", "key", MaxAssetKey);
        var users = (await ListAsync(appId, ct)).Where(w => w.Layout.ImageAsset == key || w.Layout.VideoAsset == key).ToList();
        if (users.Count > 0)
            throw new ProblemException(StatusCodes.Status409Conflict, "Asset in use",
                $"Asset '{key}' is shown by {string.Join(", ", users.Select(w => $"'{w.Name}' (#{w.Id})"))}; give them another image or video first.", "key");
        await using var conn = await db.OpenAsync(ct);
        if (await conn.ExecuteAsync("DELETE FROM widget_assets WHERE app_id = @appId AND asset_key = @key", new { appId, key }) == 0)
            throw ProblemException.NotFound($"Asset '{key}'");
    }

    /// <summary>
    /// The widgets a visitor may see now: active, inside start / end, and (when a segment is set) with
    /// the installation in it. Page pattern, trigger and frequency are left to the SDK, which knows the page.
    /// </summary>
    public async Task<SdkWidgets> ForVisitorAsync(long appId, string? installationId, string assetBase, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        IReadOnlyList<Row> rows;
        int? ordinal = null;
        await using (var conn = await db.OpenAsync(ct))
        {
            rows = [.. await conn.QueryAsync<Row>($"SELECT {Columns} FROM widgets WHERE app_id = @appId AND active = @yes ORDER BY id", new { appId, yes = true })];
            if (installationId is not null)
                ordinal = await conn.QueryFirstOrDefaultAsync<int?>(
                    "SELECT ordinal FROM devices WHERE app_id = @appId AND installation_id = @installationId", new { appId, installationId })
                    ?? throw ProblemException.NotFound($"Installation '{installationId}'");
        }
        var result = new List<SdkWidget>();
        foreach (var row in rows)
        {
            var d = JsonSerializer.Deserialize<Definition>(row.Definition, Json)!;
            if (d.Rules.StartAt is { } start && start > now) continue;
            if (d.Rules.EndAt is { } end && end <= now) continue;
            if (d.Rules.SegmentId is { } segmentId)
            {
                if (ordinal is not { } o) continue;
                try
                {
                    if (!(await segments.MembersAsync(appId, segmentId, ct)).Contains((uint)o)) continue;
                }
                catch (ProblemException e) when (e.Status == StatusCodes.Status404NotFound)
                {
                    continue; // the segment was deleted after the widget was saved: nobody matches
                }
            }
            var l = d.Layout;
            result.Add(new SdkWidget(row.Id, row.Name,
                new SdkWidgetLayout(l.Title, l.Text,
                    l.ImageAsset is null ? null : assetBase + l.ImageAsset,
                    l.VideoAsset is null ? null : assetBase + l.VideoAsset,
                    l.Buttons ?? [], l.Colors ?? new WidgetColors(), l.Position ?? "center"),
                new SdkWidgetRules(d.Rules.UrlPattern, d.Rules.TriggerEvent, d.Rules.Frequency ?? "always", d.Rules.EndAt?.ToUnixTimeMilliseconds())));
        }
        return new SdkWidgets(result);
    }

    private static WidgetView View(Row r)
    {
        var d = JsonSerializer.Deserialize<Definition>(r.Definition, Json)!;
        return new WidgetView(r.Id, r.Name, r.Active, d.Layout, d.Rules, r.CreatedAt, r.UpdatedAt);
    }

    private async Task<(string Name, Definition Definition)> ValidateAsync(long appId, WidgetRequest r, CancellationToken ct)
    {
        var name = Required(r.Name, "name", MaxName);
        var layout = r.Layout ?? throw ProblemException.BadRequest("layout is required (title, text, buttons …).", "layout");
        var rules = r.Rules ?? new WidgetRules();

        if (string.IsNullOrWhiteSpace(layout.Title) && string.IsNullOrWhiteSpace(layout.Text) && layout.ImageAsset is null && layout.VideoAsset is null)
            throw ProblemException.BadRequest("A widget needs a title, a text, an image or a video.", "layout.title");
        Optional(layout.Title, "layout.title", MaxTitle);
        Optional(layout.Text, "layout.text", MaxText);
        if (layout.ImageAsset is not null && layout.VideoAsset is not null)
            throw ProblemException.BadRequest("Give an image or a video, not both.", "layout.videoAsset");
        if (layout.ImageAsset is { } image) await assets.RequireAsync(appId, image, "image", "layout.imageAsset", ct);
        if (layout.VideoAsset is { } video) await assets.RequireAsync(appId, video, "video", "layout.videoAsset", ct);

        var buttons = layout.Buttons ?? [];
        if (buttons.Count > MaxButtons)
            throw ProblemException.BadRequest($"layout.buttons has {buttons.Count} buttons; the limit is {MaxButtons}.", "layout.buttons", MaxButtons);
        for (var i = 0; i < buttons.Count; i++)
        {
            var b = buttons[i] ?? throw ProblemException.BadRequest("A button cannot be null.", $"layout.buttons[{i}]");
            Required(b.Text, $"layout.buttons[{i}].text", MaxButtonText);
            if (b.Action is null || !Actions.Contains(b.Action))
                throw ProblemException.BadRequest($"layout.buttons[{i}].action must be one of {string.Join(", ", Actions)}; got '{b.Action}'.", $"layout.buttons[{i}].action");
            CheckTarget(b, $"layout.buttons[{i}].target");
        }

        if (layout.Colors is { } c)
        {
            Colour(c.Background, "layout.colors.background");
            Colour(c.Text, "layout.colors.text");
            Colour(c.Button, "layout.colors.button");
            Colour(c.ButtonText, "layout.colors.buttonText");
        }
        if (layout.Position is { } p && !Positions.Contains(p))
            throw ProblemException.BadRequest($"layout.position must be one of {string.Join(", ", Positions)}; got '{p}'.", "layout.position");

        Optional(rules.UrlPattern, "rules.urlPattern", MaxPattern);
        Optional(rules.TriggerEvent, "rules.triggerEvent", 128);
        if (rules.Frequency is { } f && !Frequencies.Contains(f))
            throw ProblemException.BadRequest($"rules.frequency must be one of {string.Join(", ", Frequencies)}; got '{f}'.", "rules.frequency");
        if (rules.StartAt is { } s && rules.EndAt is { } e && e <= s)
            throw ProblemException.BadRequest($"rules.endAt ({e:O}) must be after rules.startAt ({s:O}).", "rules.endAt");
        if (rules.SegmentId is { } segmentId)
        {
            try { await segments.GetRowExistsAsync(appId, segmentId, ct); }
            catch (ProblemException x) when (x.Status == StatusCodes.Status404NotFound)
            {
                throw ProblemException.BadRequest($"Segment {segmentId} does not exist in this app.", "rules.segmentId");
            }
        }
        return (name, new Definition(layout with { Buttons = buttons }, rules));
    }

    private static void CheckTarget(WidgetButton b, string field)
    {
        if (b.Action == "dismiss")
        {
            if (b.Target is not null) throw ProblemException.BadRequest("A dismiss button has no target.", field);
            return;
        }
        var target = Required(b.Target, field, MaxTarget);
        if (!Uri.TryCreate(target, UriKind.Absolute, out var uri) || uri.Scheme is "javascript" or "data" or "file" or "vbscript")
            throw ProblemException.BadRequest($"{field} must be an absolute URL or deeplink (https://…, myapp://…); got '{target}'.", field);
        if (b.Action == "url" && uri.Scheme is not ("http" or "https"))
            throw ProblemException.BadRequest($"{field} of a url button must be http or https; got '{uri.Scheme}'. Use action deeplink for app links.", field);
    }

    private static string Required(string? value, string field, int max)
    {
        if (string.IsNullOrWhiteSpace(value)) throw ProblemException.BadRequest($"{field} is required.", field);
        Optional(value, field, max);
        return value;
    }

    private static void Optional(string? value, string field, int max)
    {
        if (value is { Length: var n } && n > max)
            throw ProblemException.BadRequest($"{field} is {n} characters; the limit is {max}.", field, max);
    }

    private static void Colour(string? value, string field)
    {
        if (value is not null && !HexColour().IsMatch(value))
            throw ProblemException.BadRequest($"{field} must be a hex colour like #1a73e8 or #fff; got '{value}'.", field);
    }

    [GeneratedRegex("^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")]
    private static partial Regex HexColour();
}
