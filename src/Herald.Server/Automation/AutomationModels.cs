using System.Globalization;
using System.Text.Json;
using Herald.Server.Analytics;
using Herald.Server.Infrastructure;

namespace Herald.Server.Automation;

public static class TriggerTypes
{
    /// <summary>An event happened (optionally with attribute filters), then a delay.</summary>
    public const string Event = "event";
    /// <summary>Event A happened and event B did not follow within N minutes (abandoned cart).</summary>
    public const string Absence = "absence";
    /// <summary>No event from the person for N days (re-engagement).</summary>
    public const string Inactivity = "inactivity";
    /// <summary>The person entered a real-time segment.</summary>
    public const string SegmentEntry = "segment_entry";
    public static readonly string[] All = [Event, Absence, Inactivity, SegmentEntry];
}

/// <summary>When a triggered campaign sends to one person, and how often the same person may get it again.</summary>
public sealed record TriggerDefinition
{
    /// <summary>event | absence | inactivity | segment_entry.</summary>
    public string Type { get; init; } = TriggerTypes.Event;
    /// <summary>The starting event (event and absence triggers).</summary>
    public string? Event { get; init; }
    /// <summary>Conditions on the starting event's attributes, e.g. <c>{"attribute": "total", "op": "gt", "value": 100}</c>; all must hold.</summary>
    public List<JsonElement>? Filters { get; init; }
    /// <summary>Wait this long after the trigger before sending (not for absence: its window is the wait).</summary>
    public int DelaySeconds { get; init; }
    /// <summary>Absence: the event that cancels the pending message (e.g. purchase).</summary>
    public string? CancelEvent { get; init; }
    /// <summary>Absence: how long the cancel event has to happen.</summary>
    public int? WithinMinutes { get; init; }
    /// <summary>Inactivity: days without any event.</summary>
    public int? InactiveDays { get; init; }
    /// <summary>Segment entry: a real-time segment of the app.</summary>
    public long? SegmentId { get; init; }
    /// <summary>
    /// once (a person gets this campaign at most once) | every_n_days (at most once every
    /// <see cref="ReentryDays"/> days) | every_time (each trigger sends: a geofence entered again, an order shipped).
    /// </summary>
    public string Reentry { get; init; } = "once";
    public int? ReentryDays { get; init; }
}

/// <summary>A campaign sent again and again: every day, or every week on one day, at a wall-clock time in each device's own timezone.</summary>
public sealed record RecurrenceDefinition
{
    /// <summary>daily | weekly.</summary>
    public string Every { get; init; } = "daily";
    /// <summary>Weekly: monday … sunday.</summary>
    public string? DayOfWeek { get; init; }
    /// <summary>HH:mm in each device's timezone (the app's timezone when the device has none).</summary>
    public string LocalTime { get; init; } = "09:00";

    public TimeOnly Time => TimeOnly.ParseExact(LocalTime, "HH:mm", CultureInfo.InvariantCulture);

    public DayOfWeek? Day => DayOfWeek is null ? null : Enum.Parse<DayOfWeek>(DayOfWeek, ignoreCase: true);
}

/// <summary>Checks the trigger and recurrence parts of a campaign when it is saved.</summary>
public static class AutomationValidator
{
    public const int MaxDelaySeconds = 30 * 86_400;
    public const int MaxWithinMinutes = 30 * 1440;
    public const int MaxDays = 3650;
    public const int MaxFilters = 25;

    public static void Validate(Campaigns.CampaignDefinition d)
    {
        if (d.Trigger is not null && d.Recurrence is not null)
            throw ProblemException.BadRequest("A campaign has either a trigger or a recurrence, not both.", "recurrence");
        if ((d.Trigger is not null || d.Recurrence is not null) && d.Schedule.Type != "now")
            throw ProblemException.BadRequest("schedule.type must be 'now' for a triggered or recurring campaign; its trigger or recurrence says when.", "schedule.type");
        if (d.Trigger is { } t)
        {
            Trigger(t);
            if (d.Audience.Users is { Count: > 0 } || d.Audience.Devices is { Count: > 0 })
                throw ProblemException.BadRequest("A triggered campaign goes to whoever triggers it; audience.users and audience.devices do not apply (segments and platforms narrow it).", "audience.users");
        }
        if (d.Recurrence is { } r) Recurrence(r);
    }

    private static void Trigger(TriggerDefinition t)
    {
        if (!TriggerTypes.All.Contains(t.Type))
            throw ProblemException.BadRequest($"trigger.type must be one of {string.Join(", ", TriggerTypes.All)}; got '{t.Type}'.", "trigger.type");
        if (t.Type is TriggerTypes.Event or TriggerTypes.Absence)
        {
            Name(t.Event, "trigger.event");
            Filters(t.Filters);
        }
        else if (t.Event is not null || t.Filters is { Count: > 0 })
            throw ProblemException.BadRequest($"trigger.event and trigger.filters belong to event and absence triggers, not {t.Type}.", "trigger.event");
        if (t.DelaySeconds is < 0 or > MaxDelaySeconds)
            throw ProblemException.BadRequest($"trigger.delaySeconds must be 0..{MaxDelaySeconds} (30 days); got {t.DelaySeconds}.", "trigger.delaySeconds", MaxDelaySeconds);
        switch (t.Type)
        {
            case TriggerTypes.Absence:
                Name(t.CancelEvent, "trigger.cancelEvent");
                if (t.WithinMinutes is not (>= 1 and <= MaxWithinMinutes))
                    throw ProblemException.BadRequest($"trigger.withinMinutes must be 1..{MaxWithinMinutes} (30 days) for an absence trigger.", "trigger.withinMinutes", MaxWithinMinutes);
                if (t.DelaySeconds != 0)
                    throw ProblemException.BadRequest("An absence trigger waits withinMinutes; trigger.delaySeconds must be 0.", "trigger.delaySeconds");
                break;
            case TriggerTypes.Inactivity:
                if (t.InactiveDays is not (>= 1 and <= MaxDays))
                    throw ProblemException.BadRequest($"trigger.inactiveDays must be 1..{MaxDays} for an inactivity trigger.", "trigger.inactiveDays", MaxDays);
                break;
            case TriggerTypes.SegmentEntry:
                if (t.SegmentId is not > 0)
                    throw ProblemException.BadRequest("trigger.segmentId (a real-time segment) is required for a segment_entry trigger.", "trigger.segmentId");
                break;
        }
        switch (t.Reentry)
        {
            case "once":
                if (t.ReentryDays is not null)
                    throw ProblemException.BadRequest("trigger.reentryDays belongs to reentry 'every_n_days'.", "trigger.reentryDays");
                break;
            case "every_time":
                if (t.ReentryDays is not null)
                    throw ProblemException.BadRequest("trigger.reentryDays belongs to reentry 'every_n_days'.", "trigger.reentryDays");
                if (t.Type is TriggerTypes.Inactivity or TriggerTypes.SegmentEntry)
                    throw ProblemException.BadRequest($"trigger.reentry 'every_time' is for event and absence triggers; a {t.Type} trigger would fire on every check.", "trigger.reentry");
                break;
            case "every_n_days":
                if (t.ReentryDays is not (>= 1 and <= MaxDays))
                    throw ProblemException.BadRequest($"trigger.reentryDays must be 1..{MaxDays} for reentry 'every_n_days'.", "trigger.reentryDays", MaxDays);
                break;
            default:
                throw ProblemException.BadRequest($"trigger.reentry must be 'once', 'every_n_days' or 'every_time'; got '{t.Reentry}'.", "trigger.reentry");
        }
    }

    public static List<AttributeCondition> Conditions(List<JsonElement>? filters)
    {
        var errors = new List<RuleError>();
        var parsed = (filters ?? []).Select((f, i) => AttributeCondition.Parse(f, $"trigger.filters[{i}]", "attribute", errors)).ToList();
        if (errors.Count > 0) throw ProblemException.BadRequest($"{errors[0].Path}: {errors[0].Detail}.", errors[0].Path);
        return parsed.Select(c => c!).ToList();
    }

    private static void Filters(List<JsonElement>? filters)
    {
        if (filters is { Count: > MaxFilters })
            throw ProblemException.BadRequest($"trigger.filters has {filters.Count} conditions; at most {MaxFilters}.", "trigger.filters", MaxFilters);
        Conditions(filters);
    }

    private static void Recurrence(RecurrenceDefinition r)
    {
        if (r.Every is not ("daily" or "weekly"))
            throw ProblemException.BadRequest($"recurrence.every must be 'daily' or 'weekly'; got '{r.Every}'.", "recurrence.every");
        if (!TimeOnly.TryParseExact(r.LocalTime, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
            throw ProblemException.BadRequest("recurrence.localTime must be HH:mm.", "recurrence.localTime");
        var named = r.DayOfWeek is not null && Enum.TryParse<DayOfWeek>(r.DayOfWeek, ignoreCase: true, out var day) && Enum.IsDefined(day)
            && !int.TryParse(r.DayOfWeek, out _);
        if (r.Every == "weekly" && !named)
            throw ProblemException.BadRequest("recurrence.dayOfWeek must be monday … sunday for a weekly recurrence.", "recurrence.dayOfWeek");
        if (r.Every == "daily" && r.DayOfWeek is not null)
            throw ProblemException.BadRequest("recurrence.dayOfWeek belongs to a weekly recurrence.", "recurrence.dayOfWeek");
    }

    private static void Name(string? name, string field)
    {
        if (string.IsNullOrWhiteSpace(name)) throw ProblemException.BadRequest($"{field} is required.", field);
        if (name.Length > 255) throw ProblemException.BadRequest($"{field} is longer than 255 characters.", field, 255);
    }
}
