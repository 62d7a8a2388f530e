using System.Globalization;
using System.Text.RegularExpressions;
using HandlebarsDotNet;

namespace Herald.Domain.Templates;

/// <summary>A template that does not compile: where, and why, so the marketer can fix it when saving.</summary>
public sealed class TemplateException(string message, int line, int column) : Exception(message)
{
    public int Line { get; } = line;
    public int Column { get; } = column;
}

/// <summary>
/// A personalised text (R-MSG-3): Handlebars over profile attributes, device fields and trigger event
/// data, compiled once when the campaign is saved and rendered per recipient. Marketers coming from
/// Liquid may write <c>{{ first_name | default: 'there' }}</c>; it means <c>{{default first_name "there"}}</c>.
/// Push and SMS text is never HTML-escaped; email HTML always is.
/// </summary>
public sealed partial class MessageTemplate
{
    private readonly HandlebarsTemplate<object, object> _render;

    public string Source { get; }

    /// <summary>Plain <c>{{path}}</c> values with no default: a recipient lacking one is "missing a value".</summary>
    public IReadOnlyList<string> RequiredPaths { get; }

    private MessageTemplate(string source, HandlebarsTemplate<object, object> render, IReadOnlyList<string> required)
    {
        Source = source;
        _render = render;
        RequiredPaths = required;
    }

    private static readonly IHandlebars Plain = Create(escape: false);
    private static readonly IHandlebars Html = Create(escape: true);

    private static IHandlebars Create(bool escape)
    {
        var hb = Handlebars.Create(new HandlebarsConfiguration { NoEscape = !escape, ThrowOnUnresolvedBindingExpression = false });
        hb.RegisterHelper("default", (in HelperOptions _, in Context _, in Arguments a) =>
            a.Length < 2 ? throw new HandlebarsException("default needs a value and a fallback: {{default first_name \"there\"}}")
            : IsMissing(a[0]) ? a[1] : a[0]);
        hb.RegisterHelper("upper", (in HelperOptions _, in Context _, in Arguments a) =>
            a.Length == 0 || IsMissing(a[0]) ? "" : Convert.ToString(a[0], CultureInfo.InvariantCulture)!.ToUpper(CultureInfo.InvariantCulture));
        hb.RegisterHelper("urlencode", (in HelperOptions _, in Context _, in Arguments a) =>
            a.Length == 0 || IsMissing(a[0]) ? "" : Uri.EscapeDataString(Convert.ToString(a[0], CultureInfo.InvariantCulture)!));
        return hb;
    }

    private static bool IsMissing(object? v) => v is null or UndefinedBindingResult || (v is string s && s.Length == 0);

    /// <summary>Compiles, and proves the template renders, so errors surface at save time, not send time.</summary>
    public static MessageTemplate Compile(string source, bool htmlEscape = false)
    {
        var translated = LiquidDefault().Replace(source, m =>
            $"{{{{default {m.Groups["path"].Value} \"{m.Groups["fallback"].Value.Replace("\"", "\\\"", StringComparison.Ordinal)}\"}}}}");
        var hb = htmlEscape ? Html : Plain;
        HandlebarsTemplate<object, object> render;
        try
        {
            render = hb.Compile(translated);
            render(new Dictionary<string, object?>()); // unknown helpers and partials only fail when rendering
        }
        catch (HandlebarsException e)
        {
            var (line, column) = Position(e.Message, source);
            var reason = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0].Trim();
            throw new TemplateException(reason, line, column);
        }
        var required = PlainPath().Matches(translated).Select(m => m.Groups["path"].Value)
            .Where(p => p is not ("else" or "this") && !p.StartsWith('@')).Distinct(StringComparer.Ordinal).ToList();
        return new MessageTemplate(source, render, required);
    }

    public string Render(IReadOnlyDictionary<string, object?> context) => _render(context);

    /// <summary>The first required value the recipient lacks, or null when the template can be filled.</summary>
    public string? FirstMissing(IReadOnlyDictionary<string, object?> context)
    {
        foreach (var path in RequiredPaths)
            if (IsMissing(Resolve(context, path))) return path;
        return null;
    }

    private static object? Resolve(IReadOnlyDictionary<string, object?> context, string path)
    {
        object? current = context;
        foreach (var part in path.Split('.'))
        {
            current = current switch
            {
                IReadOnlyDictionary<string, object?> d => d.TryGetValue(part, out var v) ? v : null,
                IDictionary<string, object?> d => d.TryGetValue(part, out var v) ? v : null,
                _ => null,
            };
            if (current is null) return null;
        }
        return current;
    }

    private static (int Line, int Column) Position(string message, string source)
    {
        var m = OccurredAt().Match(message);
        if (m.Success)
            return (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) + 1, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) + 1);
        // Block errors carry no position: point at the last opening of the block.
        var block = BlockName().Match(message);
        if (block.Success)
        {
            var at = source.LastIndexOf("{{#" + block.Groups[1].Value, StringComparison.Ordinal);
            if (at >= 0)
            {
                var line = source.AsSpan(0, at).Count('\n') + 1;
                var col = at - (source.LastIndexOf('\n', Math.Max(0, at - 1)) + 1) + 1;
                return (line, col);
            }
        }
        return (1, 1);
    }

    [GeneratedRegex(@"\{\{\s*(?<path>[A-Za-z_][\w.]*)\s*\|\s*default\s*:\s*(?:'(?<fallback>[^']*)'|""(?<fallback>[^""]*)"")\s*\}\}")]
    private static partial Regex LiquidDefault();

    [GeneratedRegex(@"\{\{\{?\s*(?<path>[A-Za-z_@][\w.]*)\s*\}?\}\}")]
    private static partial Regex PlainPath();

    [GeneratedRegex(@"Occured at: ?(\d+):(\d+)")]
    private static partial Regex OccurredAt();

    [GeneratedRegex(@"block expression '(\w+)'")]
    private static partial Regex BlockName();
}
