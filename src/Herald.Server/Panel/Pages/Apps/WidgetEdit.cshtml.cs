using System.Globalization;
using Herald.Server.Accounts;
using Herald.Server.Segments;
using Herald.Server.Widgets;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>
/// A widget's editor: its look (texts, an uploaded image or video, buttons, colours, position) and its
/// rules (pages, trigger event, segment, frequency, schedule), saved through <see cref="WidgetService"/>
/// with the same checks as the REST API; files are uploaded through <see cref="WidgetAssets"/>.
/// </summary>
public sealed class WidgetEditModel(AccountService accounts, WidgetService widgets, WidgetAssets assets, SegmentService segments) : PanelPage(accounts)
{
    public const int ButtonRows = 2;
    public override string Section => "widgets";
    [BindProperty(SupportsGet = true)]
    public long? Id { get; set; }
    public WidgetRequest W { get; private set; } = new() { Layout = new WidgetLayout(), Rules = new WidgetRules() };
    public IReadOnlyList<WidgetAssetView> Assets { get; private set; } = [];
    public IReadOnlyList<SegmentView> Segments { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync()
    {
        if (Id is { } id)
        {
            try { W = AsRequest(await widgets.GetAsync(AppId, id, HttpContext.RequestAborted)); }
            catch (Infrastructure.ProblemException p) when (p.Status == 404) { return NotFound(); }
        }
        await ListsAsync();
        return Page();
    }

    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostAsync()
    {
        var form = HttpContext.Request.Form;
        W = Read(form);
        WidgetView? saved = null;
        if (await TryAsync(async () => saved = BadTime(form) is { } bad ? throw Infrastructure.ProblemException.BadRequest($"{bad}: not a date and time (yyyy-MM-ddTHH:mm, UTC).", $"rules.{bad}")
                : Id is { } id
                ? await widgets.UpdateAsync(AppId, id, W, HttpContext.RequestAborted)
                : await widgets.CreateAsync(AppId, W, HttpContext.RequestAborted)))
        {
            await AuditAsync(Id is null ? "widget.create" : "widget.update", $"{saved!.Name} (#{saved.Id})");
            return Redirect($"/panel/apps/{AppId}/widgets");
        }
        await ListsAsync();
        return Page();
    }

    /// <summary>An image (≤ 1 MB) or video (≤ 12 MB) for this app's widgets; the limits are checked before the file is read.</summary>
    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostUploadAsync(IFormFile? file)
    {
        if (await TryAsync(async () =>
        {
            if (file is null || file.Length == 0) throw Infrastructure.ProblemException.BadRequest("Choose a file to upload.", "file");
            if (file.Length > WidgetAssets.MaxVideoBytes) throw WidgetAssets.TooLargeUpload("file");
            using var buffer = new MemoryStream((int)file.Length);
            await file.CopyToAsync(buffer, HttpContext.RequestAborted);
            var asset = await assets.SaveAsync(AppId, buffer.ToArray(), HttpContext.Request, HttpContext.RequestAborted);
            await AuditAsync("widget.asset", $"{asset.Kind} {asset.Key} ({asset.Size} bytes)");
            Flash = $"Uploaded {file.FileName}: {asset.Kind}, {asset.Size:N0} bytes. Choose it below.";
        })) { }
        return await OnGetAsync();
    }

    /// <summary>Deletes an uploaded file; one a widget still shows is refused, naming the widgets.</summary>
    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostDeleteAssetAsync(string key)
    {
        if (await TryAsync(() => widgets.DeleteAssetAsync(AppId, key, HttpContext.RequestAborted)))
        {
            await AuditAsync("widget.asset.delete", key);
            Flash = "File deleted.";
        }
        return await OnGetAsync();
    }

    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostDeleteAsync()
    {
        if (Id is not { } id) return NotFound();
        if (!await TryAsync(() => widgets.DeleteAsync(AppId, id, HttpContext.RequestAborted))) return await OnGetAsync();
        await AuditAsync("widget.delete", $"#{id}");
        return Redirect($"/panel/apps/{AppId}/widgets");
    }

    private async Task ListsAsync()
    {
        Assets = await assets.ListAsync(AppId, HttpContext.Request, HttpContext.RequestAborted);
        Segments = await segments.ListAsync(AppId, HttpContext.RequestAborted);
    }

    private static WidgetRequest AsRequest(WidgetView v) => new() { Name = v.Name, Active = v.Active, Layout = v.Layout, Rules = v.Rules };

    private static string? F(IFormCollection f, string key, int i = 0) =>
        f[key].Count > i && !string.IsNullOrWhiteSpace(f[key][i]) ? f[key][i]!.Trim() : null;

    /// <summary>The form as the REST API's request: empty fields are left out, times are UTC.</summary>
    internal static WidgetRequest Read(IFormCollection f)
    {
        var buttons = Enumerable.Range(0, f["buttonText"].Count)
            .Where(i => F(f, "buttonText", i) is not null)
            .Select(i => new WidgetButton(F(f, "buttonText", i), F(f, "buttonAction", i) ?? "dismiss", F(f, "buttonTarget", i))).ToList();
        var colors = new WidgetColors(F(f, "colorBackground"), F(f, "colorText"), F(f, "colorButton"), F(f, "colorButtonText"));
        return new WidgetRequest
        {
            Name = F(f, "name"),
            Active = f["active"] == "on",
            Layout = new WidgetLayout
            {
                Title = F(f, "title"), Text = F(f, "text"), ImageAsset = F(f, "imageAsset"), VideoAsset = F(f, "videoAsset"),
                Buttons = buttons.Count > 0 ? buttons : null,
                Colors = colors == new WidgetColors() ? null : colors,
                Position = F(f, "position"),
            },
            Rules = new WidgetRules
            {
                UrlPattern = F(f, "urlPattern"), TriggerEvent = F(f, "triggerEvent"),
                SegmentId = F(f, "segmentId") is { } s && long.TryParse(s, CultureInfo.InvariantCulture, out var id) ? id : null,
                Frequency = F(f, "frequency"), StartAt = Utc(F(f, "startAt")), EndAt = Utc(F(f, "endAt")),
            },
        };
    }

    private static readonly string[] TimeFormats = ["yyyy-MM-ddTHH:mm", "yyyy-MM-ddTHH:mm:ss"];

    private static DateTimeOffset? Utc(string? local) =>
        local is not null && DateTime.TryParseExact(local, TimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>The first of startAt / endAt given but not a time (<see cref="Read"/> leaves it out).</summary>
    private static string? BadTime(IFormCollection f) =>
        new[] { "startAt", "endAt" }.FirstOrDefault(k => F(f, k) is { } v && Utc(v) is null);

    /// <summary>For datetime-local inputs (UTC).</summary>
    public static string Local(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm", CultureInfo.InvariantCulture) ?? "";
}
