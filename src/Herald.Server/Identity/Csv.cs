using System.Text;

namespace Herald.Server.Identity;

/// <summary>
/// RFC 4180 CSV reading: quoted fields, doubled quotes, line breaks inside quotes, CRLF or LF.
/// The delimiter is a comma, or a semicolon when the header line has more of those (spreadsheets in
/// locales with a decimal comma, Turkish among them, save that way).
/// </summary>
public static class Csv
{
    public readonly record struct Record(int Line, IReadOnlyList<string> Fields);

    /// <summary>One RFC 4180 line (CRLF-terminated); fields with a comma, quote or line break are quoted.</summary>
    public static string Line(IEnumerable<string?> fields)
    {
        var line = new System.Text.StringBuilder();
        var first = true;
        foreach (var f in fields)
        {
            if (!first) line.Append(',');
            first = false;
            Field(line, f);
        }
        return line.Append("\r\n").ToString();
    }

    /// <summary>Appends one field: quoted (quotes doubled) only when it holds a comma, quote or line break.</summary>
    public static void Field(System.Text.StringBuilder line, string? value)
    {
        if (value is null) return;
        if (value.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            line.Append(value);
            return;
        }
        line.Append('"').Append(value.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }

    public static IEnumerable<Record> Read(string text)
    {
        var firstLineEnd = text.IndexOf('\n');
        var headerLine = firstLineEnd < 0 ? text : text[..firstLineEnd];
        var delimiter = headerLine.Count(c => c == ';') > headerLine.Count(c => c == ',') ? ';' : ',';

        var fields = new List<string>();
        var field = new StringBuilder();
        var line = 1;
        var recordLine = 1;
        var i = 0;
        var quoted = false;
        while (i < text.Length)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                    quoted = false; i++; continue;
                }
                if (c == '\n') line++;
                field.Append(c); i++; continue;
            }
            if (c == '"' && field.Length == 0) { quoted = true; i++; continue; }
            if (c == delimiter) { fields.Add(field.ToString()); field.Clear(); i++; continue; }
            if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') { i++; continue; }
            if (c == '\n')
            {
                fields.Add(field.ToString()); field.Clear();
                yield return new Record(recordLine, fields);
                fields = [];
                line++; recordLine = line; i++;
                continue;
            }
            field.Append(c); i++;
        }
        if (field.Length > 0 || fields.Count > 0)
        {
            fields.Add(field.ToString());
            yield return new Record(recordLine, fields);
        }
    }
}
