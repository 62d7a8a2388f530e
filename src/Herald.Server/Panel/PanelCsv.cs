using System.Globalization;
using System.Text;
using Herald.Server.Identity;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel;

/// <summary>Small CSV downloads of what a panel page shows (RFC 4180, UTF-8 with a BOM so spreadsheets read non-ASCII names).</summary>
public static class PanelCsv
{
    /// <summary>A file result; text that a spreadsheet would run as a formula (=, +, -, @ first) is quoted with a leading apostrophe.</summary>
    public static FileContentResult File(string name, IEnumerable<string> header, IEnumerable<IEnumerable<object?>> rows)
    {
        var sb = new StringBuilder().Append(Csv.Line(header));
        foreach (var row in rows) sb.Append(Csv.Line(row.Select(Cell)));
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(sb.ToString())).ToArray();
        return new FileContentResult(bytes, "text/csv; charset=utf-8") { FileDownloadName = name };
    }

    private static string? Cell(object? v) => v switch
    {
        null => null,
        string s when s.Length > 0 && s[0] is '=' or '+' or '-' or '@' => "'" + s,
        string s => s,
        double d => d.ToString("0.####", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString(),
    };
}
