using Herald.Server.Accounts;
using Herald.Server.Widgets;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>The app's widgets (in-app and on-site messages, R-MSG-13): what each shows and where.</summary>
public sealed class WidgetsModel(AccountService accounts, WidgetService widgets) : PanelPage(accounts)
{
    public override string Section => "widgets";
    public IReadOnlyList<WidgetView> Widgets { get; private set; } = [];

    public async Task OnGetAsync() => Widgets = await widgets.ListAsync(AppId, HttpContext.RequestAborted);

    /// <summary>Where and when a widget shows, in a line.</summary>
    public static string Where(WidgetRules r) => string.Join(" · ", new[]
    {
        r.UrlPattern is { } u ? $"pages {u}" : "every page",
        r.TriggerEvent is { } e ? $"on '{e}'" : "on load",
        r.SegmentId is { } s ? $"segment #{s}" : null,
        (r.Frequency ?? "always").Replace('_', ' '),
    }.Where(x => x is not null));
}
