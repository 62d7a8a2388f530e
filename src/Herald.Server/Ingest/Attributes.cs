using System.Globalization;
using System.Text.Json;

namespace Herald.Server.Ingest;

public enum AttributeType { String, Number, Boolean, Date, List, Object }

/// <summary>A validated attribute value with its type (dates are normalised to ISO 8601 UTC strings).</summary>
public readonly record struct TypedValue(AttributeType Type, JsonElement? Raw, string? Date = null);

/// <summary>
/// Attribute rules shared by event properties and user traits (R-EV-2, R-ID-3): count, name length,
/// per-type limits. Every violation names the attribute and the limit.
/// </summary>
public static class Attributes
{
    public static string TypeName(AttributeType t) => t.ToString().ToLowerInvariant();

    /// <summary>Checks an event's properties object; returns null when valid.</summary>
    public static IngestError? ValidateProperties(JsonElement props, IngestOptions o, string path)
    {
        if (props.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return null;
        if (props.ValueKind != JsonValueKind.Object)
            return new IngestError(path, $"{path} must be a JSON object; got {Kind(props)}.");
        var count = 0;
        foreach (var p in props.EnumerateObject())
        {
            count++;
            if (count > o.MaxAttributes)
                return new IngestError(path, $"{path} has more than {o.MaxAttributes} attributes; the limit is {o.MaxAttributes} per event.", o.MaxAttributes);
            if (Check(p, o, $"{path}.{p.Name}", allowObject: true, out _) is { } e) return e;
        }
        return null;
    }

    /// <summary>Checks and types user traits (identify / REST / CSV).</summary>
    public static IngestError? TypeTraits(IEnumerable<JsonProperty> traits, IngestOptions o, string path, Dictionary<string, TypedValue> into)
    {
        foreach (var p in traits)
        {
            if (Check(p, o, $"{path}.{p.Name}", allowObject: false, out var type) is { } e) return e;
            into[p.Name] = type == AttributeType.Date
                ? new TypedValue(type, null, NormaliseDate(p.Value.GetString()!))
                : new TypedValue(type, p.Value.Clone());
            if (into.Count > 500)
                return new IngestError(path, "A user may have at most 500 attributes.", 500);
        }
        return null;
    }

    private static IngestError? Check(JsonProperty p, IngestOptions o, string field, bool allowObject, out AttributeType type)
    {
        type = AttributeType.String;
        if (p.Name.Length == 0 || p.Name.Length > o.MaxNameLength)
            return new IngestError(field, $"Attribute names must be 1-{o.MaxNameLength} characters; '{Shorten(p.Name)}' has {p.Name.Length}.", o.MaxNameLength);
        var v = p.Value;
        switch (v.ValueKind)
        {
            case JsonValueKind.String:
                var s = v.GetString()!;
                if (s.Length > o.MaxStringLength)
                    return new IngestError(field, $"Attribute '{p.Name}' is a string of {s.Length} characters; the limit is {o.MaxStringLength}.", o.MaxStringLength);
                type = LooksLikeDate(s) ? AttributeType.Date : AttributeType.String;
                return null;
            case JsonValueKind.Number:
                if (!v.TryGetDouble(out var d) || !double.IsFinite(d) || Math.Abs(d) > o.MaxNumberMagnitude)
                    return new IngestError(field, $"Attribute '{p.Name}' is {v.GetRawText()}; numbers must lie within ±{o.MaxNumberMagnitude:0.#######e+0}.", o.MaxNumberMagnitude);
                type = AttributeType.Number;
                return null;
            case JsonValueKind.True or JsonValueKind.False:
                type = AttributeType.Boolean;
                return null;
            case JsonValueKind.Null:
                type = AttributeType.String;
                return null;
            case JsonValueKind.Array:
                type = AttributeType.List;
                var n = 0;
                foreach (var item in v.EnumerateArray())
                {
                    n++;
                    if (n > o.MaxListItems)
                        return new IngestError(field, $"Attribute '{p.Name}' is a list of more than {o.MaxListItems} items; the limit is {o.MaxListItems}.", o.MaxListItems);
                    if (item.ValueKind == JsonValueKind.String)
                    {
                        if (item.GetString()!.Length > o.MaxListItemLength)
                            return new IngestError($"{field}[{n - 1}]", $"Item {n - 1} of list '{p.Name}' has {item.GetString()!.Length} characters; the limit is {o.MaxListItemLength}.", o.MaxListItemLength);
                    }
                    else if (!allowObject)
                        return new IngestError($"{field}[{n - 1}]", $"List attribute '{p.Name}' may hold strings only; item {n - 1} is {Kind(item)}.");
                    else type = AttributeType.Object;
                }
                return null;
            case JsonValueKind.Object when allowObject:
                // Nested objects (e.g. Segment's products) are kept as opaque JSON, bounded by the event size limit.
                type = AttributeType.Object;
                return null;
            default:
                return new IngestError(field, $"Attribute '{p.Name}' must be a string, number, boolean, date string or list of strings; got {Kind(v)}.");
        }
    }

    /// <summary>ISO 8601 dates ("2024-05-01") and date-times ("2024-05-01T10:00:00Z") are typed as dates.</summary>
    public static bool LooksLikeDate(string s) =>
        s.Length is >= 10 and <= 35 && char.IsAsciiDigit(s[0]) && s[4] == '-' && s[7] == '-'
        && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out _);

    public static string NormaliseDate(string s) =>
        DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal)
            .UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static string Shorten(string s) => s.Length > 40 ? s[..40] + "…" : s;
}
