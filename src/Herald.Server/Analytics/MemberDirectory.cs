using System.Text;
using System.Text.Json;
using Herald.Domain.Analytics;
using Herald.Server.Identity;
using Herald.Server.Storage;

namespace Herald.Server.Analytics;

/// <summary>A device or user named by its public ids, for member lists.</summary>
public sealed record MemberView(uint Ordinal, string? InstallationId, string? ExternalId, string? Platform);

/// <summary>Turns ordinal bitmaps (segments, funnel steps) back into public ids and CSV files.</summary>
public sealed class MemberDirectory(Db db)
{
    /// <summary>Members with ordinal in [first, last] that are in <paramref name="members"/>, ascending.</summary>
    public async Task<IReadOnlyList<MemberView>> DevicesAsync(long appId, RoaringBitmap members, uint first, uint last, CancellationToken ct)
    {
        var list = new List<MemberView>();
        await foreach (var (ordinal, inst, ext, platform, _, _) in ReadDevicesAsync(appId, first, last, ct))
            if (members.Contains(ordinal)) list.Add(new MemberView(ordinal, inst, ext, platform));
        return list;
    }

    /// <summary>
    /// UTF-8 CSV (with BOM, so spreadsheets read Turkish letters right) of the devices in
    /// <paramref name="members"/>: ordinal, installation id, external id, platform, then each chosen
    /// profile attribute (lists joined with '|'; <c>email</c> is the profile's email).
    /// </summary>
    public async Task WriteDevicesCsvAsync(long appId, RoaringBitmap members, IReadOnlyList<string> attributes, Stream output, CancellationToken ct)
    {
        await using var w = new StreamWriter(output, new UTF8Encoding(true), 1 << 16, leaveOpen: true);
        await w.WriteAsync(Csv.Line(new[] { "device_ordinal", "installation_id", "external_id", "platform" }.Concat(attributes)));
        if (!members.IsEmpty)
            await foreach (var (ordinal, inst, ext, platform, attrs, email) in ReadDevicesAsync(appId, members.Min, members.Max, ct))
                if (members.Contains(ordinal))
                    await w.WriteAsync(Csv.Line(new[] { ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture), inst, ext, platform }
                        .Concat(Values(attrs, email, attributes))));
        await w.FlushAsync(ct);
    }

    /// <summary>The same for users: ordinal, external id, then the chosen attributes.</summary>
    public async Task WriteUsersCsvAsync(long appId, RoaringBitmap members, IReadOnlyList<string> attributes, Stream output, CancellationToken ct)
    {
        await using var w = new StreamWriter(output, new UTF8Encoding(true), 1 << 16, leaveOpen: true);
        await w.WriteAsync(Csv.Line(new[] { "user_ordinal", "external_id" }.Concat(attributes)));
        if (!members.IsEmpty)
        {
            await using var conn = await db.OpenAsync(ct);
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = "SELECT ordinal, external_id, attributes, email FROM users WHERE app_id = @app AND ordinal BETWEEN @first AND @last ORDER BY ordinal";
            AddParams(cmd, appId, members.Min, members.Max);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var ordinal = (uint)r.GetInt32(0);
                if (!members.Contains(ordinal)) continue;
                await w.WriteAsync(Csv.Line(new[] { ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture), r.IsDBNull(1) ? null : r.GetString(1) }
                    .Concat(Values(r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), attributes))));
            }
        }
        await w.FlushAsync(ct);
    }

    private static IEnumerable<string?> Values(string? attributesJson, string? email, IReadOnlyList<string> names)
    {
        if (names.Count == 0) yield break;
        using var doc = JsonDocument.Parse(attributesJson ?? "{}");
        foreach (var n in names)
        {
            if (n == "email") { yield return email; continue; }
            yield return doc.RootElement.TryGetProperty(n, out var v) ? v.ValueKind switch
            {
                JsonValueKind.String => v.GetString(),
                JsonValueKind.Array => string.Join('|', v.EnumerateArray().Select(i => i.ValueKind == JsonValueKind.String ? i.GetString() : i.GetRawText())),
                JsonValueKind.Null => null,
                _ => v.GetRawText(),
            } : null;
        }
    }

    private async IAsyncEnumerable<(uint Ordinal, string Installation, string? External, string Platform, string? Attributes, string? Email)> ReadDevicesAsync(
        long appId, uint first, uint last, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText =
            """
            SELECT d.ordinal, d.installation_id, u.external_id, d.platform, u.attributes, u.email
            FROM devices d LEFT JOIN users u ON u.app_id = d.app_id AND u.ordinal = d.user_ordinal
            WHERE d.app_id = @app AND d.ordinal BETWEEN @first AND @last ORDER BY d.ordinal
            """;
        AddParams(cmd, appId, first, last);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            yield return ((uint)r.GetInt32(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3),
                r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5));
    }

    private static void AddParams(System.Data.Common.DbCommand cmd, long appId, uint first, uint last)
    {
        foreach (var (n, v) in new (string, object)[] { ("@app", appId), ("@first", (int)Math.Min(first, int.MaxValue)), ("@last", (int)Math.Min(last, int.MaxValue)) })
        {
            var p = cmd.CreateParameter();
            p.ParameterName = n;
            p.Value = v;
            cmd.Parameters.Add(p);
        }
    }
}
