using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Server.Automation;
using Herald.Server.Campaigns;
using Herald.Server.Infrastructure;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>
/// The optional parts of the wizard's form — A/B test, fallback, trigger and recurrence — read into the
/// definition's own records. Nothing is checked here beyond "is it a number": the rules are
/// <see cref="CampaignValidator"/>'s, applied when <see cref="CampaignService"/> saves.
/// </summary>
internal static partial class CampaignWizardParts
{
    private static string? F(IFormCollection f, string k) => string.IsNullOrWhiteSpace(f[k]) ? null : f[k].ToString().Trim();

    private static string? At(IFormCollection f, string k, int i) => f[k].Count > i && !string.IsNullOrWhiteSpace(f[k][i]) ? f[k][i]!.Trim() : null;

    private static int? Int(IFormCollection f, string k, string field) => F(f, k) is not { } v ? null
        : int.TryParse(v, CultureInfo.InvariantCulture, out var n) ? n
        : throw ProblemException.BadRequest($"{field} must be a whole number; got '{v}'.", field);

    private static double? Number(IFormCollection f, string k, string field) => F(f, k) is not { } v ? null
        : double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n
        : throw ProblemException.BadRequest($"{field} must be a number; got '{v}'.", field);

    /// <summary>Rows of <c>buttonText</c>, <c>buttonAction</c>, <c>buttonTarget</c>; a row without text is dropped.</summary>
    public static List<ButtonDefinition>? Buttons(IFormCollection f)
    {
        var buttons = new List<ButtonDefinition>();
        for (var i = 0; i < f["buttonText"].Count; i++)
            if (At(f, "buttonText", i) is { } text)
                buttons.Add(new ButtonDefinition(text, At(f, "buttonAction", i) ?? "open_app", At(f, "buttonTarget", i)));
        return buttons.Count > 0 ? buttons : null;
    }

    /// <summary>Rows of <c>dataKey</c> and <c>dataValue</c> (custom data sent with the push); a row without a key is dropped.</summary>
    public static Dictionary<string, string>? Data(IFormCollection f)
    {
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < f["dataKey"].Count; i++)
        {
            if (At(f, "dataKey", i) is not { } key) continue;
            if (!data.TryAdd(key, f["dataValue"].Count > i ? f["dataValue"][i] ?? "" : ""))
                throw ProblemException.BadRequest($"content.data: the key '{key}' is given twice.", "content.data");
        }
        return data.Count > 0 ? data : null;
    }

    /// <summary>
    /// What the wizard does not show but a campaign saved through the API may have: carried through an
    /// edit in a hidden field, so saving in the panel does not drop it.
    /// </summary>
    public sealed record Kept(string? Sound, int? Badge, int? TtlSeconds, string? CollapseKey, List<string>? Platforms, List<string>? Devices);

    private static readonly JsonSerializerOptions KeptJson = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public static string KeptOf(CampaignDefinition d) =>
        JsonSerializer.Serialize(new Kept(d.Content.Sound, d.Content.Badge, d.Content.TtlSeconds, d.Content.CollapseKey, d.Audience.Platforms, d.Audience.Devices), KeptJson);

    /// <summary>A variant's content without what its wizard row shows: the row's hidden <c>abKept</c>.</summary>
    public static string VariantKeptOf(ContentDefinition c) =>
        JsonSerializer.Serialize(c with { Title = null, Body = null, Subject = null, Text = null, Url = null, ImageUrl = null, CatalogItem = null }, KeptJson);

    public static Kept? KeptFrom(IFormCollection f)
    {
        if (F(f, "kept") is not { } json) return null;
        try { return JsonSerializer.Deserialize<Kept>(json, KeptJson); }
        catch (JsonException) { throw ProblemException.BadRequest("The form's kept fields are not valid JSON; reload the page.", "kept"); }
    }

    /// <summary>
    /// <c>abTest=on</c>: variant A is the base content (only its name is asked), then one row per
    /// further variant (<c>abName</c>, <c>abTitle</c>/<c>abSubject</c>, <c>abBody</c>/<c>abText</c>,
    /// <c>abUrl</c> and <c>abImage</c> for push; the other channel's fields are disabled in the
    /// browser). What a variant has that its row does not show (buttons, data, HTML, sound, …, set
    /// through the API) comes back in the row's hidden <c>abKept</c>. Empty rows are dropped.
    /// </summary>
    public static AbTestDefinition? AbTest(IFormCollection f)
    {
        if (f["abTest"] != "on") return null;
        var variants = new List<AbVariantDefinition> { new() { Name = F(f, "abNameA") } };
        for (var i = 0; i < f["abName"].Count; i++)
        {
            var kept = new ContentDefinition();
            if (At(f, "abKept", i) is { } json)
            {
                try { kept = JsonSerializer.Deserialize<ContentDefinition>(json, KeptJson) ?? kept; }
                catch (JsonException) { throw ProblemException.BadRequest("The form's kept fields are not valid JSON; reload the page.", "kept"); }
            }
            var content = kept with
            {
                Title = At(f, "abTitle", i), Body = At(f, "abBody", i), Subject = At(f, "abSubject", i), Text = At(f, "abText", i),
                Url = At(f, "abUrl", i), ImageUrl = At(f, "abImage", i),
            };
            var name = At(f, "abName", i);
            if (name is null && content == new ContentDefinition()) continue;
            variants.Add(new AbVariantDefinition { Name = name, Content = content });
        }
        var share = Number(f, "abShare", "abTest.testShare");
        var control = Number(f, "abControl", "abTest.controlShare");
        return new AbTestDefinition
        {
            Variants = variants,
            TestShare = share is { } s ? s / 100 : 0.2,
            ControlShare = control is { } c ? c / 100 : 0,
            Metric = F(f, "abMetric") ?? AbTests.OpenRate,
            DurationMinutes = Int(f, "abDuration", "abTest.durationMinutes") ?? 240,
            NoWinner = F(f, "abNoWinner") ?? AbTests.KeepA,
        };
    }

    /// <summary>
    /// "If the push does not arrive": <c>fallbackChannel</c> sms (<c>fallbackBody</c>) or email
    /// (<c>fallbackSubject</c>, <c>fallbackText</c>), <c>fallbackAfter</c> seconds. Only push channels have one.
    /// </summary>
    public static FallbackDefinition? Fallback(IFormCollection f, string? channel)
    {
        if (channel is not (CampaignChannels.Push or CampaignChannels.WebPush) || F(f, "fallbackChannel") is not { } ch) return null;
        return new FallbackDefinition
        {
            Channel = ch,
            Content = ch == CampaignChannels.Email
                ? new ContentDefinition { Subject = F(f, "fallbackSubject"), Text = F(f, "fallbackText") }
                : new ContentDefinition { Body = F(f, "fallbackBody") },
            AfterSeconds = Int(f, "fallbackAfter", "fallback.afterSeconds"),
        };
    }

    /// <summary>
    /// "When something happens": only the fields the chosen trigger type uses are read. Event filters
    /// are rows of <c>filterAttribute</c> / <c>filterOp</c> / <c>filterValue</c>; a row without an
    /// attribute is left out. Values are typed as the segment editor types them: digits are numbers,
    /// true/false booleans, "is one of" a comma list.
    /// </summary>
    public static TriggerDefinition Trigger(IFormCollection f)
    {
        var type = F(f, "triggerType") ?? TriggerTypes.Event;
        var withEvent = type is TriggerTypes.Event or TriggerTypes.Absence;
        List<JsonElement>? filters = null;
        if (withEvent)
        {
            var (attributes, ops, values) = (f["filterAttribute"], f["filterOp"], f["filterValue"]);
            for (var i = 0; i < attributes.Count; i++)
            {
                if (string.IsNullOrWhiteSpace(attributes[i])) continue;
                var op = i < ops.Count ? ops[i] ?? "eq" : "eq";
                var text = (i < values.Count ? values[i] : null)?.Trim() ?? "";
                var condition = new JsonObject { ["attribute"] = attributes[i]!.Trim(), ["op"] = op };
                if (op is not ("exists" or "notExists"))
                    condition["value"] = op switch
                    {
                        "in" => new JsonArray(text.Split(',').Select(v => Typed(v.Trim())).ToArray()),
                        "withinLastDays" => int.TryParse(text, CultureInfo.InvariantCulture, out var days) ? days : text,
                        "contains" or "before" or "after" => text,
                        _ => Typed(text),
                    };
                (filters ??= []).Add(JsonSerializer.SerializeToElement(condition));
            }
        }
        var reentry = F(f, "reentry") ?? "once";
        var delay = Int(f, "triggerDelay", "trigger.delaySeconds");
        return new TriggerDefinition
        {
            Type = type,
            Event = withEvent ? F(f, "triggerEvent") : null,
            Filters = filters,
            DelaySeconds = type == TriggerTypes.Absence ? 0 : delay is { } m ? checked(m * 60) : 0,
            CancelEvent = type == TriggerTypes.Absence ? F(f, "triggerCancelEvent") : null,
            WithinMinutes = type == TriggerTypes.Absence ? Int(f, "triggerWithin", "trigger.withinMinutes") : null,
            InactiveDays = type == TriggerTypes.Inactivity ? Int(f, "triggerInactiveDays", "trigger.inactiveDays") : null,
            SegmentId = type == TriggerTypes.SegmentEntry && F(f, "triggerSegment") is { } s && long.TryParse(s, CultureInfo.InvariantCulture, out var id) ? id : null,
            Reentry = reentry,
            ReentryDays = reentry == "every_n_days" ? Int(f, "reentryDays", "trigger.reentryDays") : null,
        };
    }

    private static JsonNode? Typed(string v) =>
        NumberPattern().IsMatch(v) ? JsonValue.Create(double.Parse(v, CultureInfo.InvariantCulture))
        : v is "true" or "false" ? JsonValue.Create(v == "true") : JsonValue.Create(v);

    [System.Text.RegularExpressions.GeneratedRegex(@"^-?\d+(\.\d+)?$")]
    private static partial System.Text.RegularExpressions.Regex NumberPattern();

    /// <summary>A filter's value as the row's text box shows it (the inverse of the typing above).</summary>
    public static string FilterText(JsonElement filter) =>
        !filter.TryGetProperty("value", out var v) ? ""
        : v.ValueKind == JsonValueKind.Array ? string.Join(",", v.EnumerateArray().Select(Text))
        : Text(v);

    private static string Text(JsonElement v) => v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText();

    /// <summary>"Every day / week at": <c>recurEvery</c>, <c>recurDay</c> (weekly), <c>recurTime</c> (HH:mm).</summary>
    public static RecurrenceDefinition Recurrence(IFormCollection f)
    {
        var every = F(f, "recurEvery") ?? "daily";
        return new RecurrenceDefinition { Every = every, DayOfWeek = every == "weekly" ? F(f, "recurDay") : null, LocalTime = F(f, "recurTime") ?? "" };
    }

    /// <summary>A one-line description of a trigger or recurrence, for the Review and report pages.</summary>
    public static string Describe(CampaignDefinition d)
    {
        if (d.Recurrence is { } r) return r.Every == "weekly" ? $"Every {r.DayOfWeek} at {r.LocalTime} in each device's timezone" : $"Every day at {r.LocalTime} in each device's timezone";
        if (d.Trigger is not { } t) return "";
        var what = t.Type switch
        {
            TriggerTypes.Absence => $"'{t.Event}' and no '{t.CancelEvent}' within {t.WithinMinutes} min",
            TriggerTypes.Inactivity => $"no event for {t.InactiveDays} day(s)",
            TriggerTypes.SegmentEntry => $"entering segment #{t.SegmentId}",
            _ => $"event '{t.Event}'" + (t.Filters is { Count: > 0 } fs ? $" ({fs.Count} filter(s))" : ""),
        };
        var delay = t.DelaySeconds > 0 ? $", {t.DelaySeconds / 60} min later" : "";
        var again = t.Reentry switch { "every_n_days" => $"at most once every {t.ReentryDays} day(s)", "every_time" => "every time it triggers", _ => "once per person" };
        return $"When {what}{delay}; {again}";
    }
}
