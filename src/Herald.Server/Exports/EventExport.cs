using System.Data.Common;
using System.Globalization;
using System.Text;
using Herald.Server.Identity;
using Herald.Server.Storage;

namespace Herald.Server.Exports;

/// <summary>
/// Raw events as CSV (R-AN-5), streamed straight from the database: one row per event, grouped by
/// event name (each read by its name-and-time index) and in time order within a name. Events of
/// deleted users are gone from the table, so no export contains them (R-ID-5).
/// </summary>
public sealed class EventExport(Db db)
{
    public static readonly string[] Header =
        ["occurred_at", "name", "message_id", "installation_id", "external_id", "revenue", "currency", "utm_source", "utm_medium", "utm_campaign", "properties"];

    /// <summary>Writes events with <paramref name="from"/> ≤ occurred_at &lt; <paramref name="to"/> (Unix ms); returns how many.</summary>
    public async Task<long> WriteCsvAsync(long appId, long from, long to, IReadOnlyList<string> names, Stream output, CancellationToken ct)
    {
        await using var w = new StreamWriter(output, new UTF8Encoding(true), 1 << 16, leaveOpen: true);
        await w.WriteAsync(Csv.Line(Header));
        long rows = 0;
        var line = new StringBuilder(1 << 17);
        var at = new char[32];
        await using var conn = await db.OpenAsync(ct);
        if (names.Count > 0)
        {
            // One query for every name (not one per name): the database joins the devices and users
            // once by hash and sorts, instead of an index probe per row.
            await using var cmd = conn.CreateCommand();
            var list = string.Join(", ", names.Select((_, i) => $"@n{i}"));
            cmd.CommandText = $"""
                SELECT e.occurred_at, e.name, e.message_id, d.installation_id, u.external_id, e.revenue, e.currency,
                       e.utm_source, e.utm_medium, e.utm_campaign, e.properties
                FROM events e
                LEFT JOIN devices d ON d.app_id = e.app_id AND d.ordinal = e.device_ordinal
                LEFT JOIN users u ON u.app_id = e.app_id AND u.ordinal = e.user_ordinal
                WHERE e.app_id = @app AND e.name IN ({list}) AND e.occurred_at >= @from AND e.occurred_at < @to
                ORDER BY e.name, e.occurred_at, e.message_id
                """;
            Add(cmd, "app", appId);
            for (var i = 0; i < names.Count; i++) Add(cmd, $"n{i}", names[i]);
            Add(cmd, "from", from);
            Add(cmd, "to", to);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                DateTime.UnixEpoch.AddMilliseconds(r.GetInt64(0)).TryFormat(at, out var n, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                line.Append(at, 0, n);
                for (var i = 1; i <= 10; i++)
                {
                    line.Append(',');
                    if (r.IsDBNull(i)) continue;
                    if (i == 5)
                    {
                        r.GetDouble(i).TryFormat(at, out n, provider: CultureInfo.InvariantCulture);
                        line.Append(at, 0, n);
                    }
                    else Csv.Field(line, r.GetString(i));
                }
                line.Append("\r\n");
                rows++;
                // Rows are gathered and written in blocks: one write per ~64 KB, not one per row.
                if (line.Length >= 1 << 16)
                {
                    await w.WriteAsync(line, ct);
                    line.Clear();
                }
            }
        }
        await w.WriteAsync(line, ct);
        await w.FlushAsync(ct);
        return rows;
    }

    private static void Add(DbCommand cmd, string name, object value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = "@" + name;
        p.Value = value;
        cmd.Parameters.Add(p);
    }
}
