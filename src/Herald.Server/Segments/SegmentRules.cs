using System.Text.Json;
using Herald.Server.Analytics;

namespace Herald.Server.Segments;

/// <summary>A parsed segment rule tree (schema in docs/segments.md).</summary>
public abstract record Rule(string Path);

public sealed record AndRule(string Path, IReadOnlyList<Rule> Children) : Rule(Path);
public sealed record OrRule(string Path, IReadOnlyList<Rule> Children) : Rule(Path);
public sealed record NotRule(string Path, Rule Child) : Rule(Path);
public sealed record AttributeRule(string Path, AttributeCondition Condition) : Rule(Path);
public sealed record DeviceRule(string Path, AttributeCondition Condition) : Rule(Path);
public sealed record SegmentRefRule(string Path, long SegmentId) : Rule(Path);
/// <summary>Devices inside a geofence now (or inside any fence of a group), as their enter / exit reports say.</summary>
public sealed record GeofenceRule(string Path, long? FenceId, long? GroupId) : Rule(Path);
/// <summary>Devices whose last known location is within <see cref="Radius"/> metres of a point.</summary>
public sealed record NearRule(string Path, Herald.Domain.Geo.GeoPoint Center, double Radius) : Rule(Path);
/// <summary>Devices in the top N% of a predictive model's scores, and/or scoring at least a minimum.</summary>
public sealed record PredictedRule(string Path, string Model, double? TopPercent, double? MinScore) : Rule(Path);

/// <summary>
/// did (or did not) do an event: optional property filters, at least / at most N times, within the
/// last N local days (today included) or between two local dates; all time otherwise.
/// </summary>
public sealed record EventRule(string Path, string Event, bool Did, IReadOnlyList<AttributeCondition> Where,
    int? AtLeast, int? AtMost, int? WithinLastDays, DateOnly? From, DateOnly? To) : Rule(Path);

public static class SegmentRules
{
    public const int MaxNodes = 200;
    public const int MaxDepth = 12;
    public static readonly string[] DeviceFacts = ["platform", "pushEnabled", "appVersion", "timezone", "locale", "lastSeen"];
    public const double MaxNearRadius = 1_000_000;

    /// <summary>Parses the tree at <paramref name="root"/>; every problem is reported with its path.</summary>
    public static Rule? Parse(JsonElement root, List<RuleError> errors, string path = "rules")
    {
        var nodes = 0;
        return Node(root, path, 0, errors, ref nodes);
    }

    private static Rule? Node(JsonElement n, string path, int depth, List<RuleError> errors, ref int nodes)
    {
        if (++nodes > MaxNodes) { if (nodes == MaxNodes + 1) errors.Add(new(path, $"a rule tree has at most {MaxNodes} nodes")); return null; }
        if (depth > MaxDepth) { errors.Add(new(path, $"rules nest at most {MaxDepth} deep")); return null; }
        if (n.ValueKind != JsonValueKind.Object) { errors.Add(new(path, "must be an object")); return null; }
        var kinds = new[] { "and", "or", "not", "attribute", "device", "event", "segment", "geofence", "near", "predicted" }.Where(k => n.TryGetProperty(k, out _)).ToList();
        if (kinds.Count != 1)
        {
            errors.Add(new(path, kinds.Count == 0
                ? "must have one of and, or, not, attribute, device, event, segment, geofence, near, predicted"
                : $"has both {kinds[0]} and {kinds[1]}; a rule is one of them"));
            return null;
        }
        var kind = kinds[0];
        var v = n.GetProperty(kind);
        switch (kind)
        {
            case "and" or "or":
                if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() == 0) { errors.Add(new($"{path}.{kind}", "must be a non-empty array of rules")); return null; }
                var children = new List<Rule>();
                var i = 0;
                foreach (var c in v.EnumerateArray())
                    if (Node(c, $"{path}.{kind}[{i++}]", depth + 1, errors, ref nodes) is { } child) children.Add(child);
                return kind == "and" ? new AndRule(path, children) : new OrRule(path, children);
            case "not":
                return Node(v, $"{path}.not", depth + 1, errors, ref nodes) is { } inner ? new NotRule(path, inner) : null;
            case "attribute":
                return AttributeCondition.Parse(n, path, "attribute", errors) is { } a ? new AttributeRule(path, a) : null;
            case "device":
                if (v.ValueKind != JsonValueKind.String || !DeviceFacts.Contains(v.GetString()))
                {
                    errors.Add(new($"{path}.device", $"device must be one of {string.Join(", ", DeviceFacts)}"));
                    return null;
                }
                return AttributeCondition.Parse(n, path, "device", errors) is { } d ? new DeviceRule(path, d) : null;
            case "segment":
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var id) || id <= 0) { errors.Add(new($"{path}.segment", "must be a segment id")); return null; }
                return new SegmentRefRule(path, id);
            case "geofence":
                return GeofenceNode(v, $"{path}.geofence", errors);
            case "near":
                return NearNode(v, $"{path}.near", errors);
            case "predicted":
                return PredictedNode(v, path, errors);
            default:
                return EventNode(n, v, path, errors);
        }
    }

    private static GeofenceRule? GeofenceNode(JsonElement v, string path, List<RuleError> errors)
    {
        static long? Id(JsonElement o, string name) =>
            o.TryGetProperty(name, out var x) && x.ValueKind == JsonValueKind.Number && x.TryGetInt64(out var id) && id > 0 ? id : null;
        var given = v.ValueKind == JsonValueKind.Object ? new[] { "id", "group" }.Where(k => v.TryGetProperty(k, out _)).ToList() : [];
        if (given.Count != 1)
        {
            errors.Add(new(path, "geofence must be {\"id\": fence id} or {\"group\": group id}"));
            return null;
        }
        if (Id(v, given[0]) is not { } value)
        {
            errors.Add(new($"{path}.{given[0]}", $"{given[0]} must be a {(given[0] == "id" ? "geofence" : "geofence group")} id"));
            return null;
        }
        return given[0] == "id" ? new GeofenceRule(path[..^".geofence".Length], value, null) : new GeofenceRule(path[..^".geofence".Length], null, value);
    }

    private static NearRule? NearNode(JsonElement v, string path, List<RuleError> errors)
    {
        if (v.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new(path, "near must be {\"latitude\", \"longitude\", \"radius\" (metres)}"));
            return null;
        }
        double? Number(string name, double min, double max)
        {
            if (v.TryGetProperty(name, out var x) && x.ValueKind == JsonValueKind.Number && x.TryGetDouble(out var d) && d >= min && d <= max) return d;
            errors.Add(new($"{path}.{name}", $"{name} must be a number from {min} to {max}"));
            return null;
        }
        var lat = Number("latitude", -90, 90);
        var lon = Number("longitude", -180, 180);
        var radius = Number("radius", 1, MaxNearRadius);
        return lat is null || lon is null || radius is null ? null : new NearRule(path[..^".near".Length], new(lat.Value, lon.Value), radius.Value);
    }

    private static PredictedRule? PredictedNode(JsonElement v, string path, List<RuleError> errors)
    {
        var at = $"{path}.predicted";
        if (v.ValueKind != JsonValueKind.Object || !v.TryGetProperty("model", out var m) || m.ValueKind != JsonValueKind.String
            || !Predictions.PredictionKinds.All.Contains(m.GetString()))
        {
            errors.Add(new($"{at}.model", $"predicted needs model: one of {string.Join(", ", Predictions.PredictionKinds.All)}"));
            return null;
        }
        double? Number(string name, double min, double max)
        {
            if (!v.TryGetProperty(name, out var x)) return null;
            if (x.ValueKind == JsonValueKind.Number && x.TryGetDouble(out var d) && d >= min && d <= max) return d;
            errors.Add(new($"{at}.{name}", $"{name} must be a number from {min} to {max}"));
            return null;
        }
        var top = Number("top", 0.01, 100);
        var min = Number("minScore", 0, 1);
        if (!v.TryGetProperty("top", out _) && !v.TryGetProperty("minScore", out _))
        {
            errors.Add(new(at, "predicted needs top (a percentage, e.g. 20 for the top 20%) or minScore (0 to 1)"));
            return null;
        }
        return new PredictedRule(path, m.GetString()!, top, min);
    }

    private static EventRule? EventNode(JsonElement n, JsonElement v, string path, List<RuleError> errors)
    {
        var before = errors.Count;
        if (v.ValueKind != JsonValueKind.String || v.GetString()!.Length is 0 or > 128) errors.Add(new($"{path}.event", "event must be an event name of 1 to 128 characters"));
        var did = true;
        if (n.TryGetProperty("did", out var d))
        {
            if (d.ValueKind is JsonValueKind.True or JsonValueKind.False) did = d.GetBoolean();
            else errors.Add(new($"{path}.did", "did must be true or false"));
        }
        int? Count(string field)
        {
            if (!n.TryGetProperty(field, out var x)) return null;
            if (x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var k) && k is >= 1 and <= 1_000_000) return k;
            errors.Add(new($"{path}.{field}", $"{field} must be a whole number from 1 to 1000000"));
            return null;
        }
        var atLeast = Count("atLeast");
        var atMost = Count("atMost");
        var within = Count("withinLastDays");
        if (within > 3660) errors.Add(new($"{path}.withinLastDays", "withinLastDays must be at most 3660"));
        if (atLeast is not null && atMost is not null && atLeast > atMost) errors.Add(new($"{path}.atMost", "atMost must not be below atLeast"));
        DateOnly? Date(string field)
        {
            if (!n.TryGetProperty(field, out var x)) return null;
            if (x.ValueKind == JsonValueKind.String && DateOnly.TryParseExact(x.GetString(), "yyyy-MM-dd", out var date)) return date;
            errors.Add(new($"{path}.{field}", $"{field} must be a date as YYYY-MM-DD"));
            return null;
        }
        var from = Date("from");
        var to = Date("to");
        if (within is not null && (from is not null || to is not null)) errors.Add(new($"{path}.withinLastDays", "use withinLastDays or from/to, not both"));
        if (from > to) errors.Add(new($"{path}.from", "from is after to"));
        var where = new List<AttributeCondition>();
        if (n.TryGetProperty("where", out var w))
        {
            if (w.ValueKind != JsonValueKind.Array) errors.Add(new($"{path}.where", "where must be an array of conditions"));
            else
            {
                var i = 0;
                foreach (var c in w.EnumerateArray())
                    if (AttributeCondition.Parse(c, $"{path}.where[{i++}]", "attribute", errors) is { } parsed) where.Add(parsed);
            }
        }
        return errors.Count > before ? null : new EventRule(path, v.GetString()!, did, where, atLeast, atMost, within, from, to);
    }

    public static IEnumerable<Rule> Walk(Rule rule)
    {
        yield return rule;
        var children = rule switch
        {
            AndRule a => a.Children,
            OrRule o => o.Children,
            NotRule n => [n.Child],
            _ => [],
        };
        foreach (var c in children)
            foreach (var x in Walk(c))
                yield return x;
    }
}
