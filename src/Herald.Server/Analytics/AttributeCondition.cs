using System.Globalization;
using System.Text.Json;

namespace Herald.Server.Analytics;

/// <summary>
/// One comparison of a named attribute (a profile attribute, a device fact or an event property)
/// with a value: <c>{"attribute": "age", "op": "gt", "value": 30}</c>. Shared by segment rules and
/// funnel / behaviour step filters. A missing attribute satisfies no operator except
/// <c>notExists</c> — also not <c>ne</c>.
/// </summary>
public sealed class AttributeCondition
{
    public static readonly string[] Ops = ["eq", "ne", "lt", "gt", "contains", "in", "exists", "notExists", "before", "after", "withinLastDays"];

    private AttributeCondition(string attribute, string op, JsonElement value)
    {
        Attribute = attribute;
        Op = op;
        Value = value;
        if (op is "before" or "after") DateValue = ParseDate(value.GetString()!)!.Value;
        if (op is "withinLastDays") Days = value.GetInt32();
    }

    public string Attribute { get; }
    public string Op { get; }
    public JsonElement Value { get; }
    private long DateValue { get; }
    private int Days { get; }

    /// <summary>A stable text of the condition, for caching results.</summary>
    public string Key => $"{Attribute}\u0001{Op}\u0001{(Value.ValueKind == JsonValueKind.Undefined ? "" : Value.GetRawText())}";

    /// <summary>Parses <paramref name="node"/>; problems go to <paramref name="errors"/> with their path.</summary>
    public static AttributeCondition? Parse(JsonElement node, string path, string attributeField, List<RuleError> errors)
    {
        if (node.ValueKind != JsonValueKind.Object) { errors.Add(new(path, "must be an object")); return null; }
        if (!node.TryGetProperty(attributeField, out var a) || a.ValueKind != JsonValueKind.String || a.GetString()!.Length is 0 or > 128)
        {
            errors.Add(new($"{path}.{attributeField}", $"{attributeField} must be a name of 1 to 128 characters"));
            return null;
        }
        if (!node.TryGetProperty("op", out var o) || o.ValueKind != JsonValueKind.String || !Ops.Contains(o.GetString()))
        {
            errors.Add(new($"{path}.op", $"op must be one of {string.Join(", ", Ops)}"));
            return null;
        }
        var op = o.GetString()!;
        node.TryGetProperty("value", out var v);
        string? problem = op switch
        {
            "exists" or "notExists" => null,
            "in" => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() is > 0 and <= 1000 ? null : "value must be an array of 1 to 1000 values",
            "before" or "after" => v.ValueKind == JsonValueKind.String && ParseDate(v.GetString()!) is not null ? null : "value must be an ISO 8601 date",
            "withinLastDays" => v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n is >= 1 and <= 3660 ? null : "value must be a whole number of days, 1 to 3660",
            "lt" or "gt" => v.ValueKind is JsonValueKind.Number or JsonValueKind.String ? null : "value must be a number or a date",
            "contains" => v.ValueKind == JsonValueKind.String ? null : "value must be a string",
            _ => v.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False ? null : "value must be a string, number or boolean",
        };
        if (problem is not null) { errors.Add(new($"{path}.value", problem)); return null; }
        return new AttributeCondition(a.GetString()!, op, v.ValueKind == JsonValueKind.Undefined ? default : v.Clone());
    }

    public bool Matches(JsonElement? actual, long nowMs)
    {
        var present = actual is { ValueKind: not (JsonValueKind.Undefined or JsonValueKind.Null) };
        if (Op == "notExists") return !present;
        if (!present) return false;
        var x = actual!.Value;
        switch (Op)
        {
            case "exists": return true;
            case "eq": return EqualsValue(x, Value);
            case "ne": return !EqualsValue(x, Value);
            case "in":
                foreach (var v in Value.EnumerateArray())
                    if (EqualsValue(x, v)) return true;
                return false;
            case "contains":
                var needle = Value.GetString()!;
                if (x.ValueKind == JsonValueKind.String) return x.GetString()!.Contains(needle, StringComparison.OrdinalIgnoreCase);
                if (x.ValueKind == JsonValueKind.Array)
                    foreach (var item in x.EnumerateArray())
                        if (item.ValueKind == JsonValueKind.String && string.Equals(item.GetString(), needle, StringComparison.OrdinalIgnoreCase)) return true;
                return false;
            case "lt" or "gt":
                var c = Compare(x, Value);
                return c is not null && (Op == "lt" ? c < 0 : c > 0);
            case "before" or "after":
                var t = x.ValueKind == JsonValueKind.String ? ParseDate(x.GetString()!) : null;
                return t is not null && (Op == "before" ? t < DateValue : t > DateValue);
            case "withinLastDays":
                var w = x.ValueKind == JsonValueKind.String ? ParseDate(x.GetString()!) : x.ValueKind == JsonValueKind.Number ? x.GetInt64() : null;
                return w is not null && w <= nowMs && w >= nowMs - Days * 86_400_000L;
            default: return false;
        }
    }

    /// <summary>For device facts held as plain values rather than JSON.</summary>
    public bool Matches(object? actual, long nowMs) => Matches(actual switch
    {
        null => null,
        JsonElement e => e,
        string s => JsonSerializer.SerializeToElement(s),
        bool b => JsonSerializer.SerializeToElement(b),
        long l => JsonSerializer.SerializeToElement(l),
        _ => JsonSerializer.SerializeToElement(actual),
    }, nowMs);

    private static bool EqualsValue(JsonElement x, JsonElement v) => (x.ValueKind, v.ValueKind) switch
    {
        (JsonValueKind.String, JsonValueKind.String) => string.Equals(x.GetString(), v.GetString(), StringComparison.OrdinalIgnoreCase)
            || (ParseDate(x.GetString()!) is { } a && ParseDate(v.GetString()!) is { } b && a == b),
        (JsonValueKind.Number, JsonValueKind.Number) => x.GetDouble() == v.GetDouble(),
        (JsonValueKind.True or JsonValueKind.False, JsonValueKind.True or JsonValueKind.False) => x.ValueKind == v.ValueKind,
        (JsonValueKind.Array, _) => x.EnumerateArray().Any(i => EqualsValue(i, v)),
        _ => false,
    };

    private static int? Compare(JsonElement x, JsonElement v)
    {
        if (x.ValueKind == JsonValueKind.Number && v.ValueKind == JsonValueKind.Number) return x.GetDouble().CompareTo(v.GetDouble());
        if (x.ValueKind == JsonValueKind.String && v.ValueKind == JsonValueKind.String)
        {
            // App versions ("1.10.2" > "1.9") compare part by part, dates as instants, the rest as text.
            if (Version.TryParse(x.GetString(), out var xv) && Version.TryParse(v.GetString(), out var vv)) return xv.CompareTo(vv);
            return ParseDate(x.GetString()!) is { } a && ParseDate(v.GetString()!) is { } b ? a.CompareTo(b)
                : string.CompareOrdinal(x.GetString(), v.GetString());
        }
        return null;
    }

    private static long? ParseDate(string s) =>
        s.Length >= 10 && char.IsAsciiDigit(s[0]) && s[4] == '-'
        && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var d)
            ? d.ToUnixTimeMilliseconds() : null;
}

/// <summary>A problem in a rule tree or query body, with the JSON path of the offending part.</summary>
public sealed record RuleError(string Path, string Detail);
