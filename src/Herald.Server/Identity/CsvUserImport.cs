using System.Globalization;
using System.Text;
using System.Text.Json;
using Herald.Server.Infrastructure;
using Herald.Server.Ingest;

namespace Herald.Server.Identity;

/// <summary>
/// CSV upload of users and attributes (R-ID-3). The file must be UTF-8: text such as Turkish
/// "Şükrü Çağlar İğdır" round-trips exactly, and a file in another encoding (Windows-1254, Latin-1)
/// is refused with the first line that is not UTF-8 — never imported as mojibake.
/// Header: <c>external_id</c> (required), optional <c>email</c>, <c>phone</c>, <c>optin_push</c>,
/// <c>optin_email</c>, <c>optin_sms</c>; any other column is an attribute, typed by a suffix
/// <c>name:number|boolean|date|list|string</c> (lists separated by <c>|</c>), string by default.
/// </summary>
public static class CsvUserImport
{
    public const int MaxBytes = 50 * 1024 * 1024;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string DecodeStrict(byte[] bytes)
    {
        if (bytes.Length >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF)))
            throw ProblemException.BadRequest("The file is UTF-16; save it as UTF-8 (CSV UTF-8 in Excel) and upload again.", "line 1");
        var span = bytes.AsSpan();
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) span = span[3..];
        if (System.Text.Unicode.Utf8.IsValid(span)) return StrictUtf8.GetString(span);
        // Find the first bad line so the user can look at it.
        var line = 1;
        var start = 0;
        for (var i = 0; i <= span.Length; i++)
        {
            if (i < span.Length && span[i] != (byte)'\n') continue;
            var l = span[start..i];
            if (!System.Text.Unicode.Utf8.IsValid(l))
            {
                var bad = FirstInvalid(l);
                throw ProblemException.BadRequest(
                    $"Line {line} is not valid UTF-8 (byte 0x{l[bad]:X2} at byte {bad + 1} of the line). The file looks like it was saved in another encoding such as Windows-1254 or Latin-1; save it as UTF-8 and upload again.",
                    $"line {line}");
            }
            line++;
            start = i + 1;
        }
        throw ProblemException.BadRequest("The file is not valid UTF-8.", "body");
    }

    private static int FirstInvalid(ReadOnlySpan<byte> l)
    {
        for (var n = 1; n <= l.Length; n++)
            if (!System.Text.Unicode.Utf8.IsValid(l[..n]) && (n == l.Length || !IsPrefixOfValid(l, n)))
                return Math.Max(0, n - 1);
        return 0;
    }

    private static bool IsPrefixOfValid(ReadOnlySpan<byte> l, int n)
    {
        // A multi-byte sequence cut short is not yet an error; look up to 3 bytes further.
        for (var m = n + 1; m <= Math.Min(l.Length, n + 3); m++)
            if (System.Text.Unicode.Utf8.IsValid(l[..m])) return true;
        return false;
    }

    public static (List<(int Line, IdentifyOp Op)> Ops, List<CsvRejectedRow> Rejected) Parse(string text, IngestOptions o)
    {
        var ops = new List<(int, IdentifyOp)>();
        var rejected = new List<CsvRejectedRow>();
        var records = Csv.Read(text).GetEnumerator();
        if (!records.MoveNext() || records.Current.Fields.Count == 0 || records.Current.Fields is [""])
            throw ProblemException.BadRequest("The file is empty; the first line must be a header with external_id.", "line 1");
        var header = records.Current.Fields;
        var columns = header.Select(ParseHeader).ToArray();
        var idColumn = Array.FindIndex(columns, c => c.Name == "external_id");
        if (idColumn < 0)
            throw ProblemException.BadRequest($"The header has no external_id column (found: {string.Join(", ", header)}).", "line 1");
        foreach (var bad in columns.Where(c => c.Type is null))
            throw ProblemException.BadRequest($"Column '{bad.Raw}' has an unknown type; use :string, :number, :boolean, :date or :list.", "line 1");

        while (records.MoveNext())
        {
            var (line, fields) = records.Current;
            if (fields is [""]) continue;
            string Field(int i) => i < fields.Count ? fields[i].Trim() : "";
            try
            {
                if (fields.Count > columns.Length)
                    throw new RowException($"line {line}", $"The row has {fields.Count} fields; the header has {columns.Length}.");
                var id = Field(idColumn);
                if (string.IsNullOrWhiteSpace(id)) throw new RowException("external_id", "external_id is empty.");
                if (id.Length > 256) throw new RowException("external_id", $"external_id is {id.Length} characters; the limit is 256.");
                string? email = null, phone = null;
                bool? push = null, mail = null, sms = null;
                var attrs = new Dictionary<string, TypedValue>(StringComparer.Ordinal);
                for (var i = 0; i < columns.Length; i++)
                {
                    if (i == idColumn) continue;
                    var value = Field(i);
                    if (string.IsNullOrEmpty(value)) continue;
                    var c = columns[i];
                    switch (c.Name)
                    {
                        case "email":
                            if (!value.Contains('@')) throw new RowException("email", $"'{value}' is not an email address.");
                            email = value; break;
                        case "phone": phone = value; break;
                        case "optin_push": push = Bool(value, c.Name); break;
                        case "optin_email": mail = Bool(value, c.Name); break;
                        case "optin_sms": sms = Bool(value, c.Name); break;
                        default: attrs[c.Name] = Typed(value, c, o); break;
                    }
                }
                ops.Add((line, new IdentifyOp(ops.Count, new Who(null, null, id), id, new UserTraits
                {
                    Email = email, Phone = phone, OptInPush = push, OptInEmail = mail, OptInSms = sms, Attributes = attrs,
                })));
            }
            catch (RowException e) { rejected.Add(new CsvRejectedRow(line, e.Field, e.Message)); }
        }
        return (ops, rejected);
    }

    private static TypedValue Typed(string value, Column c, IngestOptions o)
    {
        switch (c.Type)
        {
            case AttributeType.Number:
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d) || Math.Abs(d) > o.MaxNumberMagnitude)
                    throw new RowException(c.Name, $"'{value}' is not a number (use a dot for decimals, within ±{o.MaxNumberMagnitude:0.#e+0}).");
                return new TypedValue(AttributeType.Number, JsonSerializer.SerializeToElement(d));
            case AttributeType.Boolean:
                return new TypedValue(AttributeType.Boolean, JsonSerializer.SerializeToElement(Bool(value, c.Name)));
            case AttributeType.Date:
                if (!Attributes.LooksLikeDate(value)) throw new RowException(c.Name, $"'{value}' is not an ISO 8601 date (e.g. 1990-05-01).");
                return new TypedValue(AttributeType.Date, null, Attributes.NormaliseDate(value));
            case AttributeType.List:
                var items = value.Split('|', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                if (items.Length > o.MaxListItems) throw new RowException(c.Name, $"The list has {items.Length} items; the limit is {o.MaxListItems}.");
                return new TypedValue(AttributeType.List, JsonSerializer.SerializeToElement(items));
            default:
                if (value.Length > o.MaxStringLength) throw new RowException(c.Name, $"The value has {value.Length} characters; the limit is {o.MaxStringLength}.");
                return new TypedValue(AttributeType.String, JsonSerializer.SerializeToElement(value));
        }
    }

    private static bool Bool(string v, string field) => v.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" => true,
        "false" or "0" or "no" => false,
        _ => throw new RowException(field, $"'{v}' is not true/false."),
    };

    private static Column ParseHeader(string raw)
    {
        var colon = raw.LastIndexOf(':');
        var name = (colon > 0 ? raw[..colon] : raw).Trim();
        var type = colon > 0 ? raw[(colon + 1)..].Trim().ToLowerInvariant() switch
        {
            "string" => AttributeType.String,
            "number" => AttributeType.Number,
            "boolean" or "bool" => AttributeType.Boolean,
            "date" => AttributeType.Date,
            "list" => AttributeType.List,
            _ => (AttributeType?)null,
        } : AttributeType.String;
        return new Column(raw, name, type);
    }

    private sealed record Column(string Raw, string Name, AttributeType? Type);

    private sealed class RowException(string field, string message) : Exception(message)
    {
        public string Field { get; } = field;
    }
}
