using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Domain.Templates;
using Herald.Gateways;
using Herald.Server.Identity;

namespace Herald.Server.Campaigns;

/// <summary>
/// A campaign's templates compiled once (per field and locale) and rendered per recipient. The
/// dispatcher renders through the same object, so the preview shows exactly what is sent.
/// </summary>
public sealed class CampaignRenderer
{
    private static readonly (string Name, string Key)[] TextFields =
        [("title", "content.title"), ("body", "content.body"), ("subject", "content.subject"), ("html", "content.html"), ("text", "content.text")];

    private readonly CampaignDefinition _definition;
    private readonly Dictionary<string, MessageTemplate> _templates = new(StringComparer.Ordinal);
    // The URL and custom-data templates, by the field they render ("url", "data.x"): found once, not per recipient.
    private readonly (string Key, string Field, MessageTemplate Template)[] _links;
    private readonly MessageTemplate? _catalogItem;

    public CampaignRenderer(CampaignDefinition definition)
    {
        _definition = definition;
        foreach (var (field, source, html) in CampaignValidator.TemplateFields(definition))
            _templates[field] = MessageTemplate.Compile(source, html);
        _links = _templates.Where(x => x.Key is "content.url" or "content.imageUrl" || x.Key.StartsWith("content.data.", StringComparison.Ordinal))
            .Select(x => (x.Key, x.Key["content.".Length..], x.Value)).ToArray();
        _catalogItem = _templates.GetValueOrDefault("content.catalogItem");
        HasData = _links.Any(x => x.Field.StartsWith("data.", StringComparison.Ordinal));
        PushButtons = (definition.Content.Buttons ?? []).Select((b, i) => new PushButton(b.Id ?? $"b{i + 1}", b.Text, b.Action, b.Target)).ToArray();
    }

    /// <summary>Whether messages name a catalog item: the caller passes the app's catalog to <see cref="Render"/>.</summary>
    public bool NeedsCatalog => _catalogItem is not null;

    /// <summary>Whether rendered fields include custom data ("data.*").</summary>
    public bool HasData { get; }

    /// <summary>The buttons as the gateways take them: the same for every recipient.</summary>
    public IReadOnlyList<PushButton> PushButtons { get; }

    /// <summary>What this renderer renders (for an A/B variant: the variant's content over the base).</summary>
    public CampaignDefinition Definition => _definition;

    /// <summary>The locale key of <see cref="ContentDefinition.Locales"/> for a device locale: exact tag, then language, else base content.</summary>
    public string? PickLocale(string? deviceLocale)
    {
        var locales = _definition.Content.Locales;
        if (locales is null || locales.Count == 0 || string.IsNullOrEmpty(deviceLocale)) return null;
        var tag = deviceLocale.Replace('_', '-');
        var exact = locales.Keys.FirstOrDefault(k => string.Equals(k, tag, StringComparison.OrdinalIgnoreCase));
        if (exact is not null) return exact;
        var lang = tag.Split('-')[0];
        return locales.Keys.FirstOrDefault(k => string.Equals(k, lang, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Renders every field for one recipient, or says why they are skipped. With a catalog item
    /// template, the item it names for this recipient is <c>item.*</c>; an item the catalog lacks
    /// skips the recipient when the campaign skips missing values, else its fields are empty.
    /// </summary>
    public PreviewView Render(IReadOnlyDictionary<string, object?> context, string? deviceLocale,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, object?>>? catalog = null)
    {
        var locale = PickLocale(deviceLocale);
        if (_catalogItem is not null)
        {
            var id = _catalogItem.Render(context).Trim();
            if (catalog is not null && catalog.TryGetValue(id, out var item))
                context = new Dictionary<string, object?>(context, StringComparer.Ordinal) { ["item"] = item };
            else if (_definition.MissingValues == "skip")
                return new PreviewView(true, id.Length == 0 ? "no catalog item named (content.catalogItem rendered empty)" : $"catalog item '{id}' not found", locale,
                    new Dictionary<string, string?>(StringComparer.Ordinal));
        }
        var fields = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (name, baseKey) in TextFields)
        {
            var key = locale is not null && _templates.ContainsKey($"content.locales.{locale}.{name}")
                ? $"content.locales.{locale}.{name}" : baseKey;
            if (!_templates.TryGetValue(key, out var t)) continue;
            if (_definition.MissingValues == "skip" && t.FirstMissing(context) is { } missing)
                return new PreviewView(true, $"missing value '{missing}' used in {key}", locale, fields);
            fields[name] = t.Render(context);
        }
        foreach (var (key, field, t) in _links)
        {
            if (_definition.MissingValues == "skip" && t.FirstMissing(context) is { } missing)
                return new PreviewView(true, $"missing value '{missing}' used in {key}", locale, fields);
            fields[field] = t.Render(context);
        }
        return new PreviewView(false, null, locale, fields);
    }

    /// <summary>
    /// The values a template can use: profile attributes at the top level ({{first_name}}), and
    /// <c>user.*</c>, <c>device.*</c> and (for triggered sends) <c>event.*</c>.
    /// </summary>
    public static Dictionary<string, object?> Context(UserView? user, DeviceView? device, JsonObject? eventAttributes = null)
    {
        var ctx = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (user is not null)
        {
            foreach (var (k, v) in user.Attributes) ctx[k] = Plain(v);
            var u = new Dictionary<string, object?>(ctx, StringComparer.Ordinal)
            {
                ["externalId"] = user.ExternalId, ["email"] = user.Email, ["phone"] = user.Phone,
            };
            ctx["user"] = u;
        }
        if (device is not null)
        {
            ctx["device"] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["installationId"] = device.InstallationId, ["platform"] = device.Platform, ["locale"] = device.Locale,
                ["timezone"] = device.Timezone, ["appVersion"] = device.AppVersion, ["osVersion"] = device.OsVersion,
            };
        }
        if (eventAttributes is not null)
            ctx["event"] = eventAttributes.ToDictionary(x => x.Key, x => Plain(x.Value), StringComparer.Ordinal);
        return ctx;
    }

    private static object? Plain(JsonNode? v) => v switch
    {
        null => null,
        JsonValue val when val.GetValueKind() == JsonValueKind.String => val.GetValue<string>(),
        JsonValue val when val.GetValueKind() == JsonValueKind.Number => val.GetValue<double>() is var d && d == Math.Floor(d) && Math.Abs(d) < 1e15
            ? ((long)d).ToString(CultureInfo.InvariantCulture) : val.GetValue<double>().ToString(CultureInfo.InvariantCulture),
        JsonValue val when val.GetValueKind() is JsonValueKind.True or JsonValueKind.False => val.GetValue<bool>(),
        JsonArray a => string.Join(", ", a.Select(x => x?.ToString())),
        _ => v.ToJsonString(),
    };
}
