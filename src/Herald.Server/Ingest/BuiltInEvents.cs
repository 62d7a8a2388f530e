namespace Herald.Server.Ingest;

/// <summary>Event names the SDKs send on their own (R-EV-1). Custom events use any other name.</summary>
public static class BuiltInEvents
{
    // Mobile
    public const string Install = "install";
    public const string AppOpen = "app_open";
    public const string SessionTime = "session_time";
    public const string PushReceived = "push_received";
    public const string PushOpened = "push_opened";
    public const string PushDismissed = "push_dismissed";
    public const string ButtonClicked = "button_clicked";
    public const string GeofenceEnter = "geofence_enter";
    public const string GeofenceExit = "geofence_exit";
    public const string LocationUpdate = "location_update";
    public const string WebViewAction = "webview_action";
    public const string ErrorLog = "error_log";

    // Web
    public const string WebOpen = "web_open";
    public const string FirstVisit = "first_visit";
    public const string OptInPromptShown = "optin_prompt_shown";
    public const string OptInPromptAccepted = "optin_prompt_accepted";
    public const string OptInPromptLater = "optin_prompt_later";
    public const string PushEnabled = "push_enabled";
    public const string PushDisabled = "push_disabled";
    public const string PushClicked = "push_clicked";
    public const string WidgetShown = "widget_shown";
    public const string WidgetAction = "widget_action";

    // Both, and the Segment spec's page / screen calls
    public const string PageView = "page_view";
    public const string ScreenView = "screen_view";
    public const string Purchase = "purchase";
    public const string Group = "group";

    public static readonly IReadOnlySet<string> All = new HashSet<string>
    {
        Install, AppOpen, SessionTime, PushReceived, PushOpened, PushDismissed, ButtonClicked, GeofenceEnter,
        GeofenceExit, LocationUpdate, WebViewAction, ErrorLog, WebOpen, FirstVisit, OptInPromptShown,
        OptInPromptAccepted, OptInPromptLater, PushEnabled, PushDisabled, PushClicked, WidgetShown, WidgetAction,
        PageView, ScreenView, Purchase, Group,
    };
}
