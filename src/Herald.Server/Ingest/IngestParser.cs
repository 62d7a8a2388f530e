using System.Globalization;
using System.Text.Json;
using Herald.Server.Apps;

namespace Herald.Server.Ingest;

/// <summary>
/// Turns the two ingest doors — Herald's SDK API and the Segment HTTP tracking spec — into one list
/// of <see cref="IngestOp"/>s. Item-level problems become <see cref="IngestError"/>s so the valid items
/// of the same request are still kept.
/// </summary>
public sealed partial class IngestParser(IngestOptions o, long receivedAt)
{
    public List<IngestOp> Ops { get; } = [];
    public List<OpResult> Rejected { get; } = [];

    private void Reject(int index, string field, string detail, object? limit = null) =>
        Rejected.Add(new OpResult(index, new IngestError(field, detail, limit)));

    // ---------------- Herald SDK ----------------

    public void HeraldEvents(JsonElement root)
    {
        RequireObject(root, "body");
        var installationId = OptString(root, "installationId", "installationId", 64);
        var sentAt = OptTime(root, "sentAt", "sentAt");
        if (!root.TryGetProperty("events", out var events) || events.ValueKind != JsonValueKind.Array)
            throw Infrastructure.ProblemException.BadRequest("'events' must be a list of events.", "events");
        if (installationId is null)
            throw Infrastructure.ProblemException.BadRequest("installationId is required (from POST /sdk/v1/devices).", "installationId");
        var i = 0;
        foreach (var e in events.EnumerateArray())
        {
            var path = $"events[{i}]";
            try
            {
                if (e.ValueKind != JsonValueKind.Object) throw new ItemException(path, $"{path} must be an object; got {Attributes.Kind(e)}.");
                var messageId = OptString(e, "messageId", $"{path}.messageId", 128) ?? throw new ItemException($"{path}.messageId", "messageId is required so retried batches are never counted twice.");
                var name = EventName(e, "name", $"{path}.name");
                var ts = OptTime(e, "timestamp", $"{path}.timestamp") ?? throw new ItemException($"{path}.timestamp", "timestamp (the time the event happened on the device) is required.");
                var props = e.TryGetProperty("attributes", out var a) ? a : default;
                double? revenue = null; string? currency = null;
                if (e.TryGetProperty("revenue", out var rev) && rev.ValueKind != JsonValueKind.Null)
                    (revenue, currency) = Revenue(rev, $"{path}.revenue");
                var utm = e.TryGetProperty("utm", out var u) ? UtmFrom(u, $"{path}.utm") : Utm.None;
                if (utm.IsEmpty && props.ValueKind == JsonValueKind.Object && props.TryGetProperty("url", out var url) && url.ValueKind == JsonValueKind.String)
                    utm = UtmFromUrl(url.GetString()!);
                Ops.Add(new EventOp(i, Event(messageId, name, new Who(installationId, null, null), ts, sentAt, props, $"{path}.attributes", revenue, currency, utm, e)));
            }
            catch (ItemException x) { Reject(i, x.Field, x.Message, x.Limit); }
            i++;
        }
    }

    public DeviceInput HeraldDevice(JsonElement root)
    {
        RequireObject(root, "body");
        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in root.EnumerateObject()) present.Add(p.Name);
        try
        {
            var platform = (OptString(root, "platform", "platform", 16) ?? throw new ItemException("platform", "platform is required: ios, android or web.")).ToLowerInvariant();
            if (platform is not ("ios" or "android" or "web"))
                throw new ItemException("platform", $"platform must be ios, android or web; got '{platform}'.");
            var tz = OptString(root, "timezone", "timezone", 64);
            if (tz is not null) tz = AppServiceTimezone(tz);
            double? lat = null, lon = null;
            if (root.TryGetProperty("location", out var loc) && loc.ValueKind == JsonValueKind.Object)
            {
                lat = Number(loc, "lat", "location.lat", -90, 90);
                lon = Number(loc, "lon", "location.lon", -180, 180);
                present.Add("latitude"); present.Add("longitude");
            }
            string? token = OptString(root, "pushToken", "pushToken", 4096), p256 = null, auth = null;
            if (root.TryGetProperty("webPush", out var wp) && wp.ValueKind == JsonValueKind.Object)
            {
                token = OptString(wp, "endpoint", "webPush.endpoint", 4096) ?? throw new ItemException("webPush.endpoint", "webPush.endpoint is required.");
                if (!Uri.TryCreate(token, UriKind.Absolute, out var ep) || (ep.Scheme != "https" && ep.Scheme != "http"))
                    throw new ItemException("webPush.endpoint", "webPush.endpoint must be the subscription's absolute URL.");
                p256 = OptString(wp, "p256dh", "webPush.p256dh", 200) ?? throw new ItemException("webPush.p256dh", "webPush.p256dh is required.");
                auth = OptString(wp, "auth", "webPush.auth", 100) ?? throw new ItemException("webPush.auth", "webPush.auth is required.");
                present.Add("pushToken"); present.Add("pushP256dh"); present.Add("pushAuth");
            }
            return new DeviceInput
            {
                InstallationId = OptString(root, "installationId", "installationId", 64),
                AnonymousId = OptString(root, "anonymousId", "anonymousId", 128),
                Platform = platform,
                PushToken = token, PushP256dh = p256, PushAuth = auth,
                PushEnabled = OptBool(root, "pushEnabled", "pushEnabled"),
                Timezone = tz,
                Locale = OptString(root, "locale", "locale", 35),
                AppVersion = OptString(root, "appVersion", "appVersion", 64),
                OsVersion = OptString(root, "osVersion", "osVersion", 64),
                Latitude = lat, Longitude = lon,
                Present = present,
            };
        }
        catch (ItemException x) { throw Infrastructure.ProblemException.BadRequest(x.Message, x.Field, x.Limit); }
    }

    public IdentifyOp HeraldIdentify(JsonElement root)
    {
        RequireObject(root, "body");
        try
        {
            var installationId = OptString(root, "installationId", "installationId", 64);
            var userId = OptString(root, "externalId", "externalId", 256) ?? throw new ItemException("externalId", "externalId (your user id) is required.");
            var traits = Traits(root, root.TryGetProperty("attributes", out var a) ? a : default, "attributes");
            return new IdentifyOp(0, new Who(installationId, null, null), userId, traits);
        }
        catch (ItemException x) { throw Infrastructure.ProblemException.BadRequest(x.Message, x.Field, x.Limit); }
    }

    /// <summary>REST: set a user's profile (creates the user if new).</summary>
    public IdentifyOp UserUpdate(string userId, JsonElement root)
    {
        RequireObject(root, "body");
        try
        {
            return new IdentifyOp(0, new Who(null, null, userId), userId,
                Traits(root, root.TryGetProperty("attributes", out var a) ? a : default, "attributes"));
        }
        catch (ItemException x) { throw Infrastructure.ProblemException.BadRequest(x.Message, x.Field, x.Limit); }
    }

    // ---------------- Segment HTTP tracking spec ----------------

    public void SegmentCall(JsonElement item, string type, int index, JsonElement batchContext, long? batchSentAt)
    {
        var path = index < 0 ? "body" : $"batch[{index}]";
        var at = Math.Max(index, 0);
        try
        {
            if (item.ValueKind != JsonValueKind.Object) throw new ItemException(path, $"{path} must be an object; got {Attributes.Kind(item)}.");
            var size = item.GetRawText().Length;
            if (size > o.MaxEventBytes)
                throw new ItemException(path, $"{path} is {size} bytes; the Segment limit is {o.MaxEventBytes} bytes per call.", o.MaxEventBytes);
            var userId = IdString(item, "userId", $"{path}.userId");
            var anonymousId = IdString(item, "anonymousId", $"{path}.anonymousId");
            var who = new Who(null, anonymousId, userId);
            var context = item.TryGetProperty("context", out var c) && c.ValueKind == JsonValueKind.Object ? c : batchContext;
            var sentAt = OptTime(item, "sentAt", $"{path}.sentAt") ?? batchSentAt;
            var messageId = OptString(item, "messageId", $"{path}.messageId", 128);
            if (type != "alias" && userId is null && anonymousId is null)
                throw new ItemException($"{path}.userId", "Either userId or anonymousId is required.");

            switch (type)
            {
                case "identify":
                    Ops.Add(IdentifyOpOrAnonymous(at, who, item, path, this));
                    break;
                case "alias":
                    var previous = IdString(item, "previousId", $"{path}.previousId") ?? throw new ItemException($"{path}.previousId", "alias needs previousId.");
                    if (userId is null) throw new ItemException($"{path}.userId", "alias needs userId.");
                    Ops.Add(new AliasOp(at, previous, userId));
                    break;
                case "track" or "page" or "screen" or "group":
                    var name = type switch
                    {
                        "track" => EventName(item, "event", $"{path}.event"),
                        "page" => BuiltInEvents.PageView,
                        "screen" => BuiltInEvents.ScreenView,
                        _ => BuiltInEvents.Group,
                    };
                    var propsField = type == "group" ? "traits" : "properties";
                    var props = item.TryGetProperty(propsField, out var p) ? p : default;
                    var ts = OptTime(item, "timestamp", $"{path}.timestamp") ?? OptTime(item, "originalTimestamp", $"{path}.originalTimestamp");
                    double? revenue = null; string? currency = null;
                    if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty("revenue", out var rv) && rv.ValueKind == JsonValueKind.Number)
                    {
                        revenue = Number(props, "revenue", $"{path}.{propsField}.revenue", -o.MaxNumberMagnitude, o.MaxNumberMagnitude);
                        currency = props.TryGetProperty("currency", out var cur) && cur.ValueKind == JsonValueKind.String ? Currency(cur.GetString()!, $"{path}.{propsField}.currency") : "USD";
                    }
                    var utm = Utm.None;
                    if (context.ValueKind == JsonValueKind.Object && context.TryGetProperty("campaign", out var camp) && camp.ValueKind == JsonValueKind.Object)
                        utm = UtmFrom(camp, $"{path}.context.campaign", segment: true);
                    if (utm.IsEmpty)
                    {
                        var url = props.ValueKind == JsonValueKind.Object && props.TryGetProperty("url", out var pu) && pu.ValueKind == JsonValueKind.String ? pu.GetString()
                            : context.ValueKind == JsonValueKind.Object && context.TryGetProperty("page", out var pg) && pg.ValueKind == JsonValueKind.Object && pg.TryGetProperty("url", out var cu) && cu.ValueKind == JsonValueKind.String ? cu.GetString() : null;
                        if (url is not null) utm = UtmFromUrl(url);
                    }
                    var ev = Event(messageId ?? $"srv-{Guid.CreateVersion7():N}", name, who, ts ?? receivedAt, sentAt, props, $"{path}.{propsField}", revenue, currency, utm, item);
                    Ops.Add(new EventOp(at, ev with { Platform = PlatformFromContext(context) }));
                    if (type == "group" && userId is not null && IdString(item, "groupId", $"{path}.groupId") is { } gid)
                        Ops.Add(new IdentifyOp(at, who, userId, new UserTraits { Attributes = new Dictionary<string, TypedValue> { ["group_id"] = new(AttributeType.String, JsonSerializer.SerializeToElement(gid)) } }));
                    break;
                default:
                    throw new ItemException($"{path}.type", $"type must be identify, track, page, screen, group or alias; got '{type}'.");
            }
        }
        catch (ItemException x) { Reject(at, x.Field, x.Message, x.Limit); }
    }

    /// <summary>Segment identify, parsed lazily so its traits errors land on the right item.</summary>
    private IdentifyOp IdentifyOpOrAnonymous(int at, Who who, JsonElement item, string path, IngestParser self)
    {
        var traits = self.Traits(item.TryGetProperty("traits", out var t) ? t : default, t, $"{path}.traits", segment: true);
        // An identify with only an anonymous id records traits on nobody yet: Herald keeps profiles per user.
        return new IdentifyOp(at, who, who.UserId ?? "", traits);
    }

    public static string? PlatformFromContext(JsonElement context)
    {
        if (context.ValueKind != JsonValueKind.Object) return null;
        if (context.TryGetProperty("device", out var d) && d.ValueKind == JsonValueKind.Object && d.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String)
        {
            var s = t.GetString()!.ToLowerInvariant();
            if (s is "ios" or "android") return s;
        }
        if (context.TryGetProperty("library", out var l) && l.ValueKind == JsonValueKind.Object && l.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String)
        {
            var s = n.GetString()!.ToLowerInvariant();
            if (s.Contains("analytics.js") || s.Contains("analytics-next") || s.Contains("herald-web")) return "web";
            if (s.Contains("ios")) return "ios";
            if (s.Contains("android")) return "android";
        }
        return null;
    }

    // ---------------- shared pieces ----------------

    private EventInput Event(string messageId, string name, Who who, long timestamp, long? sentAt, JsonElement props, string propsPath,
        double? revenue, string? currency, Utm utm, JsonElement item)
    {
        if (Attributes.ValidateProperties(props, o, propsPath) is { } err) throw new ItemException(err.Field, err.Detail, err.Limit);
        // Clock skew (R-EV-3): the device's clock may be off; the gap between its timestamp and its
        // sentAt is real, so anchor that gap to our receive time.
        var occurred = sentAt is { } s ? receivedAt - (s - timestamp) : timestamp;
        var path = propsPath[..propsPath.LastIndexOf('.')];
        if (occurred > receivedAt + (long)o.MaxFutureSkew.TotalMilliseconds)
            throw new ItemException($"{path}.timestamp", $"The event's time is {Iso(occurred)}, more than {o.MaxFutureSkew.TotalHours:0} hours after the server's time; send sentAt so clock skew can be corrected.");
        if (occurred < receivedAt - (long)o.MaxEventAge.TotalMilliseconds)
            throw new ItemException($"{path}.timestamp", $"The event's time is {Iso(occurred)}, older than the {o.MaxEventAge.TotalDays:0}-day limit for late events.", $"{o.MaxEventAge.TotalDays:0} days");
        if (name == BuiltInEvents.Purchase && revenue is null && props.ValueKind == JsonValueKind.Object && props.TryGetProperty("amount", out var amt) && amt.ValueKind == JsonValueKind.Number)
        {
            revenue = amt.GetDouble();
            currency = props.TryGetProperty("currency", out var cur) && cur.ValueKind == JsonValueKind.String ? Currency(cur.GetString()!, $"{propsPath}.currency") : "USD";
        }
        _ = item;
        var json = props.ValueKind == JsonValueKind.Object ? props.GetRawText() : "{}";
        return new EventInput
        {
            MessageId = messageId, Name = name, Who = who, OccurredAt = occurred,
            PropertiesJson = json, MessageRef = StoredEvent.MessageRefOf(json),
            Revenue = revenue, Currency = currency, Utm = utm,
        };
    }

    private UserTraits Traits(JsonElement root, JsonElement attributes, string path, bool segment = false)
    {
        var typed = new Dictionary<string, TypedValue>(StringComparer.Ordinal);
        string? email = null, phone = null;
        bool? optPush = null, optEmail = null, optSms = null;
        if (segment)
        {
            if (attributes.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.Object))
                throw new ItemException(path, $"{path} must be an object; got {Attributes.Kind(attributes)}.");
            if (attributes.ValueKind == JsonValueKind.Object)
            {
                email = OptString(attributes, "email", $"{path}.email", 320);
                phone = OptString(attributes, "phone", $"{path}.phone", 32);
                var rest = attributes.EnumerateObject().Where(p => p.Name is not ("email" or "phone"));
                if (Attributes.TypeTraits(rest, o, path, typed) is { } e) throw new ItemException(e.Field, e.Detail, e.Limit);
            }
        }
        else
        {
            email = OptString(root, "email", "email", 320);
            phone = OptString(root, "phone", "phone", 32);
            if (root.TryGetProperty("optIn", out var opt) && opt.ValueKind == JsonValueKind.Object)
            {
                optPush = OptBool(opt, "push", "optIn.push");
                optEmail = OptBool(opt, "email", "optIn.email");
                optSms = OptBool(opt, "sms", "optIn.sms");
            }
            if (attributes.ValueKind == JsonValueKind.Object)
            {
                if (Attributes.TypeTraits(attributes.EnumerateObject(), o, path, typed) is { } e) throw new ItemException(e.Field, e.Detail, e.Limit);
            }
            else if (attributes.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
                throw new ItemException(path, $"{path} must be an object; got {Attributes.Kind(attributes)}.");
        }
        if (email is not null && !email.Contains('@'))
            throw new ItemException(segment ? $"{path}.email" : "email", $"'{email}' is not an email address.");
        return new UserTraits { Email = email, Phone = phone, OptInPush = optPush, OptInEmail = optEmail, OptInSms = optSms, Attributes = typed };
    }

    private string EventName(JsonElement e, string prop, string path)
    {
        var name = OptString(e, prop, path, o.MaxNameLength) ?? throw new ItemException(path, "The event name is required.");
        if (string.IsNullOrWhiteSpace(name)) throw new ItemException(path, "The event name must not be blank.");
        return name;
    }

    private (double, string) Revenue(JsonElement rev, string path)
    {
        if (rev.ValueKind != JsonValueKind.Object) throw new ItemException(path, $"{path} must be {{\"amount\": number, \"currency\": \"ISO 4217 code\"}}.");
        var amount = Number(rev, "amount", $"{path}.amount", -o.MaxNumberMagnitude, o.MaxNumberMagnitude) ?? throw new ItemException($"{path}.amount", "amount is required.");
        var cur = OptString(rev, "currency", $"{path}.currency", 3) ?? "USD";
        return (amount, Currency(cur, $"{path}.currency"));
    }

    private static string Currency(string c, string path) =>
        c.Length == 3 && c.All(char.IsAsciiLetter) ? c.ToUpperInvariant() : throw new ItemException(path, $"currency must be an ISO 4217 code such as USD or TRY; got '{c}'.");

    private static Utm UtmFrom(JsonElement u, string path, bool segment = false)
    {
        if (u.ValueKind != JsonValueKind.Object) throw new ItemException(path, $"{path} must be an object.");
        string? S(string k) => u.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.String ? Trunc(v.GetString()!) : null;
        return segment
            ? new Utm(S("source"), S("medium"), S("name"), S("term"), S("content"))
            : new Utm(S("source"), S("medium"), S("campaign"), S("term"), S("content"));
    }

    public static Utm UtmFromUrl(string url)
    {
        var q = url.IndexOf('?');
        if (q < 0) return Utm.None;
        var hash = url.IndexOf('#', q);
        var query = hash < 0 ? url[(q + 1)..] : url[(q + 1)..hash];
        string? source = null, medium = null, campaign = null, term = null, content = null;
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0) continue;
            var key = pair[..eq];
            string value;
            try { value = Trunc(Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '))); }
            catch (UriFormatException) { continue; }
            switch (key)
            {
                case "utm_source": source = value; break;
                case "utm_medium": medium = value; break;
                case "utm_campaign": campaign = value; break;
                case "utm_term": term = value; break;
                case "utm_content": content = value; break;
            }
        }
        return new Utm(source, medium, campaign, term, content);
    }

    private static string Trunc(string s) => s.Length > 256 ? s[..256] : s;

    private static void RequireObject(JsonElement root, string field)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw Infrastructure.ProblemException.BadRequest($"The {field} must be a JSON object; got {Attributes.Kind(root)}.", field);
    }

    private static string? OptString(JsonElement e, string prop, string path, int max)
    {
        if (!e.TryGetProperty(prop, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String) throw new ItemException(path, $"{path} must be a string; got {Attributes.Kind(v)}.");
        var s = v.GetString()!;
        if (s.Length > max) throw new ItemException(path, $"{path} is {s.Length} characters; the limit is {max}.", max);
        return s;
    }

    /// <summary>Segment ids may be strings or numbers; Herald stores them as strings.</summary>
    private static string? IdString(JsonElement e, string prop, string path)
    {
        if (!e.TryGetProperty(prop, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        var s = v.ValueKind switch
        {
            JsonValueKind.String => v.GetString()!,
            JsonValueKind.Number => v.GetRawText(),
            _ => throw new ItemException(path, $"{path} must be a string; got {Attributes.Kind(v)}."),
        };
        if (s.Length > 256) throw new ItemException(path, $"{path} is {s.Length} characters; the limit is 256.", 256);
        return s.Length == 0 ? null : s;
    }

    private static bool? OptBool(JsonElement e, string prop, string path)
    {
        if (!e.TryGetProperty(prop, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ItemException(path, $"{path} must be true or false; got {Attributes.Kind(v)}."),
        };
    }

    private static double? Number(JsonElement e, string prop, string path, double min, double max)
    {
        if (!e.TryGetProperty(prop, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var d))
            throw new ItemException(path, $"{path} must be a number; got {Attributes.Kind(v)}.");
        if (d < min || d > max) throw new ItemException(path, $"{path} is {d}; it must lie within {min}..{max}.", new[] { min, max });
        return d;
    }

    /// <summary>ISO 8601 string, or (Herald SDK) unix milliseconds.</summary>
    private static long? OptTime(JsonElement e, string prop, string path)
    {
        if (!e.TryGetProperty(prop, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var ms) && ms > 0) return ms;
        if (v.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(v.GetString(), CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
            return t.ToUnixTimeMilliseconds();
        throw new ItemException(path, $"{path} must be an ISO 8601 time (e.g. 2026-11-25T10:00:00.000Z) or unix milliseconds; got {v.GetRawText()}.");
    }

    private static string AppServiceTimezone(string tz)
    {
        try { return AppService.ValidateTimezone(tz); }
        catch (Infrastructure.ProblemException p) { throw new ItemException("timezone", p.Message); }
    }

    private static string Iso(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("O", CultureInfo.InvariantCulture);

    private sealed class ItemException(string field, string message, object? limit = null) : Exception(message)
    {
        public string Field { get; } = field;
        public object? Limit { get; } = limit;
    }
}
