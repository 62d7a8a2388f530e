namespace Herald.Server.Widgets;

/// <summary>A widget as written through the REST API: what it looks like and when it shows.</summary>
public sealed record WidgetRequest
{
    public string? Name { get; init; }
    public bool Active { get; init; } = true;
    public WidgetLayout? Layout { get; init; }
    public WidgetRules? Rules { get; init; }
}

public sealed record WidgetLayout
{
    public string? Title { get; init; }
    public string? Text { get; init; }
    /// <summary>Key of an uploaded image asset (POST /api/v1/widgets/assets).</summary>
    public string? ImageAsset { get; init; }
    /// <summary>Key of an uploaded video asset; a widget has an image or a video, not both.</summary>
    public string? VideoAsset { get; init; }
    public IReadOnlyList<WidgetButton>? Buttons { get; init; }
    public WidgetColors? Colors { get; init; }
    /// <summary>center | top | bottom | bottom-right | bottom-left (overlays: the host page never moves).</summary>
    public string? Position { get; init; }
}

/// <summary><see cref="Action"/>: url (opens <see cref="Target"/>), deeplink (app link), dismiss.</summary>
public sealed record WidgetButton(string? Text, string? Action, string? Target = null);

/// <summary>CSS hex colours (#rgb or #rrggbb).</summary>
public sealed record WidgetColors(string? Background = null, string? Text = null, string? Button = null, string? ButtonText = null);

public sealed record WidgetRules
{
    /// <summary>
    /// Where it shows: a pattern with <c>*</c> wildcards matched against the page path (when it starts
    /// with /) or the whole URL. Null: every page.
    /// </summary>
    public string? UrlPattern { get; init; }
    /// <summary>Show when this event is tracked on a matching page; null: when the page loads.</summary>
    public string? TriggerEvent { get; init; }
    /// <summary>Only for members of this segment (evaluated when the visitor asks for widgets).</summary>
    public long? SegmentId { get; init; }
    /// <summary>always | once_per_session | once (per browser or app installation).</summary>
    public string? Frequency { get; init; }
    public DateTimeOffset? StartAt { get; init; }
    public DateTimeOffset? EndAt { get; init; }
}

public sealed record WidgetView(long Id, string Name, bool Active, WidgetLayout Layout, WidgetRules Rules, long CreatedAt, long UpdatedAt);

public sealed record WidgetAssetView(long Id, string Key, string Kind, string ContentType, long Size, string Url, long CreatedAt);

/// <summary>
/// What an SDK (web or mobile) gets: the layout with asset URLs resolved, and the rules the client
/// applies itself (page pattern, trigger, frequency). Segment and schedule are already applied.
/// </summary>
public sealed record SdkWidget(long Id, string Name, SdkWidgetLayout Layout, SdkWidgetRules Rules);

public sealed record SdkWidgetLayout(
    string? Title, string? Text, string? ImageUrl, string? VideoUrl, IReadOnlyList<WidgetButton> Buttons,
    WidgetColors Colors, string Position);

public sealed record SdkWidgetRules(string? UrlPattern, string? TriggerEvent, string Frequency, long? EndAt);

public sealed record SdkWidgets(IReadOnlyList<SdkWidget> Widgets);
