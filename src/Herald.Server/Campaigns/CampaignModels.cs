namespace Herald.Server.Campaigns;

public static class CampaignChannels
{
    public const string Push = "push";        // mobile: FCM (Android) and APNs (iOS)
    public const string WebPush = "webpush";
    public const string Email = "email";
    public const string Sms = "sms";
    public static readonly string[] All = [Push, WebPush, Email, Sms];
}

public static class CampaignStates
{
    public const string Draft = "draft";
    public const string Scheduled = "scheduled";
    public const string Sending = "sending";
    public const string Sent = "sent";
    public const string Stopped = "stopped";
    public const string Recalled = "recalled";
    /// <summary>A triggered or recurring campaign that is listening; each firing is a run campaign of its own.</summary>
    public const string Active = "active";
}

public sealed record ButtonDefinition(string Text, string Action, string? Target = null, string? Id = null);

/// <summary>The texts of one language; the base content is used where a device's language has none.</summary>
public sealed record LocalizedContent
{
    public string? Title { get; init; }
    public string? Body { get; init; }
    public string? Subject { get; init; }
    public string? Html { get; init; }
    public string? Text { get; init; }
}

public sealed record ContentDefinition
{
    public string? Title { get; init; }
    public string? Body { get; init; }
    public string? ImageUrl { get; init; }
    /// <summary>Deeplink or URL opened on click; may be a template (per-user deeplinks).</summary>
    public string? Url { get; init; }
    public string? Sound { get; init; }
    public int? Badge { get; init; }
    public Dictionary<string, string>? Data { get; init; }
    public List<ButtonDefinition>? Buttons { get; init; }
    public int? TtlSeconds { get; init; }
    public string? CollapseKey { get; init; }
    // Email
    public string? Subject { get; init; }
    public string? Html { get; init; }
    public string? Text { get; init; }
    /// <summary>Per language ("tr", "en", "ja" or "tr-TR"): the device's locale picks one.</summary>
    public Dictionary<string, LocalizedContent>? Locales { get; init; }
    /// <summary>
    /// The catalog item the message is about (E-commerce and Media apps): an item id, or a template
    /// giving one per recipient such as <c>{{event.sku}}</c>. Its values are <c>item.*</c> in the
    /// other templates ("{{item.name}} is back in stock", an image URL of <c>{{item.imageUrl}}</c>).
    /// </summary>
    public string? CatalogItem { get; init; }
}

public sealed record AudienceDefinition
{
    /// <summary>Every registered, reachable device of the app — never anyone else.</summary>
    public bool All { get; init; }
    public List<long>? IncludeSegments { get; init; }
    public List<long>? ExcludeSegments { get; init; }
    public List<string>? Users { get; init; }
    public List<string>? Devices { get; init; }
    public List<string>? Platforms { get; init; }
    /// <summary>Devices inside any of these geofences when the campaign is planned (as their enter / exit reports say); joins includeSegments.</summary>
    public List<long>? Geofences { get; init; }
}

public sealed record ScheduleDefinition
{
    /// <summary>now | at | local (at a local time in each device's own timezone).</summary>
    public string Type { get; init; } = "now";
    public DateTimeOffset? At { get; init; }
    /// <summary>For "local": the date and HH:mm wall-clock time in each device's timezone.</summary>
    public string? LocalDate { get; init; }
    public string? LocalTime { get; init; }
}

public sealed record LimitsDefinition
{
    public int? MaxPerUserPerDay { get; init; }
    public int? MaxPerUserPerWeek { get; init; }
    public bool IgnoreAppLimits { get; init; }
    public int? MaxRecipients { get; init; }
}

public sealed record CampaignDefinition
{
    public string Name { get; init; } = "";
    public string Channel { get; init; } = "";
    public ContentDefinition Content { get; init; } = new();
    public AudienceDefinition Audience { get; init; } = new();
    public ScheduleDefinition Schedule { get; init; } = new();
    public LimitsDefinition Limits { get; init; } = new();
    /// <summary>"default": render empty where a value is missing; "skip": do not send to that recipient (counted as skipped).</summary>
    public string MissingValues { get; init; } = "default";
    /// <summary>Urgent lane (fast push): ahead of bulk traffic, highest provider priority.</summary>
    public bool Urgent { get; init; }
    /// <summary>Send to a person when something happens (docs/automation.md); the campaign is activated instead of sent.</summary>
    public Automation.TriggerDefinition? Trigger { get; init; }
    /// <summary>Send again every day or week at a local time (docs/automation.md).</summary>
    public Automation.RecurrenceDefinition? Recurrence { get; init; }
    /// <summary>Optional A/B test of content variants (R-MSG-7).</summary>
    public AbTestDefinition? AbTest { get; init; }
    /// <summary>SMS or email for users the push does not reach (R-MSG-8).</summary>
    public FallbackDefinition? Fallback { get; init; }
}

public sealed record TransitionView(int Seq, long At, string? From, string To, string Actor, string? Reason);

public sealed record CampaignView(long Id, string Name, string Channel, string State, CampaignDefinition Definition,
    long CreatedAt, long UpdatedAt, IReadOnlyList<TransitionView> History)
{
    /// <summary>
    /// The approval of the campaign as it stands (R-PANEL-2): the "approved" entry of its history when
    /// nothing was created or edited after it; null otherwise (and in lists, which carry no history).
    /// </summary>
    public TransitionView? Approval => CampaignApproval.Current(History);
}

/// <summary>Whom to render for; <c>variant</c> picks an A/B variant by position (0 = A, the default).</summary>
public sealed record PreviewRequest(string? ExternalId = null, string? InstallationId = null, string? Locale = null, int? Variant = null);

public sealed record PreviewView(bool Skipped, string? SkipReason, string? Locale, IReadOnlyDictionary<string, string?> Rendered);
