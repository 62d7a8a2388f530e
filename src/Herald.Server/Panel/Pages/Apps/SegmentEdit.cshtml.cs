using System.Text.Json;
using Herald.Server.Accounts;
using Herald.Server.Analytics;
using Herald.Server.Infrastructure;
using Herald.Server.Segments;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

public sealed class SegmentEditModel(AccountService accounts, SegmentService segments, AnalyticsService analytics) : PanelPage(accounts)
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    public override string Section => "segments";
    [BindProperty(SupportsGet = true)]
    public long? Id { get; set; }
    public string Name { get; private set; } = "";
    public string Rules { get; private set; } = """{"and": []}""";
    public bool Realtime { get; private set; }
    public long? Size { get; private set; }
    public bool Advanced { get; private set; }
    public IReadOnlyList<string> EventNames { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync()
    {
        EventNames = await analytics.EventNamesAsync(AppId, HttpContext.RequestAborted);
        if (Id is null) return Page();
        if (await segments.GetAsync(AppId, Id.Value, HttpContext.RequestAborted) is not { } s) return NotFound();
        (Name, Rules, Realtime, Size) = (s.Name, JsonSerializer.Serialize(s.Rules, Indented), s.Realtime, s.Size);
        return Page();
    }

    [Needs(Permission.EditAudience)]
    public async Task<IActionResult> OnPostAsync(string? name, string? rules, bool realtime)
    {
        (Name, Rules, Realtime) = (name ?? "", rules ?? "", realtime);
        EventNames = await analytics.EventNamesAsync(AppId, HttpContext.RequestAborted);
        if (!TryParse(rules, out var tree))
        {
            (Error, Advanced) = ("The rules are not valid JSON.", true);
            return Page();
        }
        SegmentView? saved = null;
        var ok = await TryAsync(async () => saved = Id is { } id
            ? await segments.UpdateAsync(AppId, id, new SegmentRequest(name, tree, realtime), HttpContext.RequestAborted)
            : await segments.CreateAsync(AppId, new SegmentRequest(name, tree, realtime), HttpContext.RequestAborted));
        if (!ok) return Page();
        await AuditAsync(Id is null ? "segment.create" : "segment.update", $"{saved!.Name} (#{saved.Id})");
        return Redirect($"/panel/apps/{AppId}/segments");
    }

    /// <summary>Live size while editing (called by segments.js); read-only, so viewers may use it.</summary>
    [Needs(Permission.View)]
    public async Task<IActionResult> OnPostPreviewAsync([FromBody] JsonElement body)
    {
        try
        {
            var rules = body.TryGetProperty("rules", out var r) ? r : (JsonElement?)null;
            return new JsonResult(new { size = await segments.PreviewAsync(AppId, rules, HttpContext.RequestAborted) });
        }
        catch (ProblemException p)
        {
            return new JsonResult(new { error = p.Message }) { StatusCode = p.Status };
        }
    }

    private static bool TryParse(string? json, out JsonElement? tree)
    {
        tree = null;
        try
        {
            tree = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "null" : json).RootElement.Clone();
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
