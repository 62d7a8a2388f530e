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
        await using var conn = await db.OpenAsync(ct);
        foreach (var name in names)
        {
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = """
                SELECT e.occurred_at, e.name, e.message_id, d.installation_id, u.external_id, e.revenue, e.currency,
                       e.utm_source, e.utm_medium, e.utm_campaign, e.properties
                FROM events e
                LEFT JOIN devices d ON d.app_id = e.app_id AND d.ordinal = e.device_ordinal
                LEFT JOIN users u ON u.app_id = e.app_id AND u.ordinal = e.user_ordinal
                WHERE e.app_id = @app AND e.name = @name AND e.occurred_at >= @from AND e.occurred_at < @to
                ORDER BY e.occurred_at, e.message_id
                """;
            Add(cmd, "app", appId);
            Add(cmd, "name", name);
            Add(cmd, "from", from);
            Add(cmd, "to", to);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
                await w.WriteAsync(Csv.Line([
                    DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
                    S(1), S(2), S(3), S(4), r.IsDBNull(5) ? null : r.GetDouble(5).ToString(CultureInfo.InvariantCulture), S(6), S(7), S(8), S(9), S(10),
                ]));
                rows++;
            }
        }
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
