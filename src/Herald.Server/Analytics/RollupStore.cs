using System.Data.Common;
using Dapper;
using Herald.Domain.Analytics;
using Herald.Server.Infrastructure;
using Herald.Server.Ingest;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Server.Analytics;

/// <summary>
/// Per (app, event name, local day): device bitmap, user bitmap, event count and revenue. Merged
/// incrementally after each ingest commit, rebuilt from the events table on demand and whenever the
/// app's timezone no longer matches the one the rollups were computed in.
/// </summary>
/// <remarks>
/// Several nodes may merge into the same rows (PostgreSQL): a merge inserts missing rows, then locks
/// every row it touches (<c>FOR UPDATE</c>, in key order) and writes old ∪ new, so no node loses
/// another's bits. Merges hold the app's <c>analytics_state</c> row in share mode and a rebuild holds
/// it exclusively, so a rebuild never interleaves with a merge. SQLite has one writer; a gate
/// serialises this node's merges and rebuilds.
/// </remarks>
public sealed partial class RollupStore(Db db, TimeProvider clock, IOptions<AnalyticsOptions> options, ILogger<RollupStore> logger)
{
    private static readonly byte[] EmptyBitmap = new RoaringBitmap().Serialize();
    private readonly SemaphoreSlim _sqliteGate = new(1, 1);

    public RollupCache Cache { get; } = new((long)options.Value.RollupCacheMegabytes << 20);

    private sealed class Acc
    {
        public readonly List<uint> Devices = [];
        public readonly List<uint> Users = [];
        public long Count;
        public double Revenue;

        public void Add(int? device, int? user, double? revenue)
        {
            if (device is { } d) Devices.Add((uint)d);
            if (user is { } u) Users.Add((uint)u);
            Count++;
            Revenue += revenue ?? 0;
        }
    }

    /// <summary>The app's day numbering, after rebuilding its rollups if its timezone changed.</summary>
    public async Task<LocalDays> EnsureCurrentAsync(long appId, CancellationToken ct)
    {
        string? current, stored;
        await using (var conn = await db.OpenAsync(ct))
        {
            (current, stored) = await ReadTimezonesAsync(conn, null, appId);
        }
        if (current is null) throw ProblemException.NotFound($"App {appId}");
        if (stored != current) await RebuildAsync(appId, force: false, ct);
        return LocalDays.For(current);
    }

    public async Task MergeAsync(IReadOnlyList<StoredEvent> events)
    {
        foreach (var app in events.GroupBy(e => e.AppId))
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    if (!await MergeAppAsync(app.Key, app.ToList()))
                        await RebuildAsync(app.Key, force: false, CancellationToken.None);
                    break;
                }
                catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure && attempt < 5)
                {
                    LogMergeRetry(logger, app.Key, attempt);
                }
            }
        }
    }

    // False when the rollups are missing or in another timezone: the caller rebuilds instead.
    private async Task<bool> MergeAppAsync(long appId, List<StoredEvent> events)
    {
        await GateAsync();
        var merged = new List<(string Name, DayRollup Row)>();
        try
        {
            await using var conn = await db.OpenAsync();
            await using var tx = await conn.BeginTransactionAsync();
            var (current, stored) = await ReadTimezonesAsync(conn, tx, appId, db.IsPostgres ? "FOR SHARE" : null);
            if (current is null || stored != current) return false;
            var days = LocalDays.For(current);

            var groups = new SortedDictionary<(string Name, int Day), Acc>(Comparer<(string Name, int Day)>.Create(
                (a, b) => string.CompareOrdinal(a.Name, b.Name) is var c && c != 0 ? c : a.Day.CompareTo(b.Day)));
            foreach (var e in events)
            {
                var key = (e.Name, days.DayOf(e.OccurredAt));
                if (!groups.TryGetValue(key, out var acc)) groups[key] = acc = new Acc();
                acc.Add(e.DeviceOrdinal, e.UserOrdinal, e.Revenue);
            }
            var existing = await ReadForUpdateAsync(conn, tx, appId, groups.Keys.ToList());
            foreach (var ((name, day), acc) in groups)
            {
                var devices = RoaringBitmap.FromValues(acc.Devices.ToArray());
                var users = RoaringBitmap.FromValues(acc.Users.ToArray());
                long count = acc.Count, version = 1;
                var revenue = acc.Revenue;
                if (existing.TryGetValue((name, day), out var old))
                {
                    devices.OrWith(old.Devices);
                    users.OrWith(old.Users);
                    count += old.Count;
                    revenue += old.Revenue;
                    version = old.Version + 1;
                }
                merged.Add((name, new DayRollup(day, version, devices, users, count, revenue)));
            }
            await WriteAsync(conn, tx, appId, merged);
            await tx.CommitAsync();
        }
        finally
        {
            Release();
        }
        foreach (var (name, row) in merged) Cache.Put(new(appId, name, row.Day), row);
        return true;
    }

    private async Task<Dictionary<(string, int), DayRollup>> ReadForUpdateAsync(DbConnection conn, DbTransaction tx, long appId, List<(string Name, int Day)> keys)
    {
        var result = new Dictionary<(string, int), DayRollup>();
        if (db.IsPostgres)
        {
            var names = keys.Select(k => k.Name).ToArray();
            var dayArray = keys.Select(k => k.Day).ToArray();
            // Insert missing rows first so that FOR UPDATE has a row to lock even for a day no node
            // has written yet; two nodes inserting the same key meet on the primary key.
            await using (var insert = new NpgsqlCommand(
                """
                INSERT INTO event_rollups (app_id, name, day, devices, users, event_count)
                SELECT @app, n, d, @empty, @empty, 0 FROM unnest(@names, @days) AS v(n, d) ORDER BY n COLLATE "C", d
                ON CONFLICT DO NOTHING
                """, (NpgsqlConnection)conn, (NpgsqlTransaction)tx))
            {
                insert.Parameters.AddWithValue("app", appId);
                insert.Parameters.AddWithValue("empty", EmptyBitmap);
                insert.Parameters.AddWithValue("names", names);
                insert.Parameters.AddWithValue("days", dayArray);
                await insert.ExecuteNonQueryAsync();
            }
            await using var select = new NpgsqlCommand(
                """
                SELECT r.name, r.day, r.devices, r.users, r.event_count, r.revenue, r.version
                FROM event_rollups r JOIN unnest(@names, @days) AS v(n, d) ON r.name = v.n AND r.day = v.d
                WHERE r.app_id = @app ORDER BY r.name COLLATE "C", r.day FOR UPDATE OF r
                """, (NpgsqlConnection)conn, (NpgsqlTransaction)tx);
            select.Parameters.AddWithValue("app", appId);
            select.Parameters.AddWithValue("names", names);
            select.Parameters.AddWithValue("days", dayArray);
            await using var r = await select.ExecuteReaderAsync();
            while (await r.ReadAsync())
                result[(r.GetString(0), r.GetInt32(1))] = ReadRow(r, 1);
            return result;
        }
        foreach (var byName in keys.GroupBy(k => k.Name))
        {
            await using var cmd = conn.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "SELECT name, day, devices, users, event_count, revenue, version FROM event_rollups WHERE app_id = $app AND name = $name AND day BETWEEN $from AND $to";
            Add(cmd, "$app", appId);
            Add(cmd, "$name", byName.Key);
            Add(cmd, "$from", byName.Min(k => k.Day));
            Add(cmd, "$to", byName.Max(k => k.Day));
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync())
                result[(r.GetString(0), r.GetInt32(1))] = ReadRow(r, 1);
        }
        return result;
    }

    private async Task WriteAsync(DbConnection conn, DbTransaction tx, long appId, List<(string Name, DayRollup Row)> rows)
    {
        if (rows.Count == 0) return;
        if (db.IsPostgres)
        {
            await using var cmd = new NpgsqlCommand(
                """
                UPDATE event_rollups r SET devices = v.dv, users = v.us, event_count = v.c, revenue = v.rv, version = v.ver
                FROM unnest(@names, @days, @devices, @users, @counts, @revenues, @versions) AS v(n, d, dv, us, c, rv, ver)
                WHERE r.app_id = @app AND r.name = v.n AND r.day = v.d
                """, (NpgsqlConnection)conn, (NpgsqlTransaction)tx);
            cmd.Parameters.AddWithValue("app", appId);
            cmd.Parameters.AddWithValue("names", rows.Select(x => x.Name).ToArray());
            cmd.Parameters.AddWithValue("days", rows.Select(x => x.Row.Day).ToArray());
            cmd.Parameters.AddWithValue("devices", NpgsqlDbType.Array | NpgsqlDbType.Bytea, rows.Select(x => x.Row.Devices.Serialize()).ToArray());
            cmd.Parameters.AddWithValue("users", NpgsqlDbType.Array | NpgsqlDbType.Bytea, rows.Select(x => x.Row.Users.Serialize()).ToArray());
            cmd.Parameters.AddWithValue("counts", rows.Select(x => x.Row.Count).ToArray());
            cmd.Parameters.AddWithValue("revenues", rows.Select(x => x.Row.Revenue).ToArray());
            cmd.Parameters.AddWithValue("versions", rows.Select(x => x.Row.Version).ToArray());
            await cmd.ExecuteNonQueryAsync();
            return;
        }
        await using var upsert = conn.CreateCommand();
        upsert.Transaction = tx;
        upsert.CommandText =
            """
            INSERT INTO event_rollups (app_id, name, day, devices, users, event_count, revenue, version)
            VALUES ($app, $name, $day, $devices, $users, $count, $revenue, $version)
            ON CONFLICT (app_id, name, day) DO UPDATE SET devices = excluded.devices, users = excluded.users,
                event_count = excluded.event_count, revenue = excluded.revenue, version = excluded.version
            """;
        var p = new[] { "$app", "$name", "$day", "$devices", "$users", "$count", "$revenue", "$version" }
            .Select(n => { var x = upsert.CreateParameter(); x.ParameterName = n; upsert.Parameters.Add(x); return x; }).ToArray();
        foreach (var (name, row) in rows)
        {
            p[0].Value = appId; p[1].Value = name; p[2].Value = row.Day;
            p[3].Value = row.Devices.Serialize(); p[4].Value = row.Users.Serialize();
            p[5].Value = row.Count; p[6].Value = row.Revenue; p[7].Value = row.Version;
            await upsert.ExecuteNonQueryAsync();
        }
    }

    /// <summary>
    /// Recomputes every rollup of the app from the events table, in the app's current timezone.
    /// Without <paramref name="force"/> it does nothing when the rollups are already in that timezone.
    /// Answers the number of events read, or -1 when nothing had to be done.
    /// </summary>
    public async Task<long> RebuildAsync(long appId, bool force, CancellationToken ct)
    {
        await GateAsync();
        long read = 0;
        try
        {
            await using var conn = await db.OpenAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(ct);
            await conn.ExecuteAsync("INSERT INTO analytics_state (app_id, timezone, rebuilt_at) VALUES (@appId, '', 0) ON CONFLICT (app_id) DO NOTHING", new { appId }, tx);
            var (current, stored) = await ReadTimezonesAsync(conn, tx, appId, db.IsPostgres ? "FOR UPDATE" : null);
            if (current is null) throw ProblemException.NotFound($"App {appId}");
            if (!force && stored == current)
            {
                await tx.CommitAsync(ct);
                return -1;
            }
            var started = clock.GetTimestamp();
            await conn.ExecuteAsync("DELETE FROM event_rollups WHERE app_id = @appId", new { appId }, tx);
            var days = LocalDays.For(current);
            var groups = new Dictionary<(string Name, int Day), Acc>();
            // Offsets change on quarter-hour boundaries at most, so one lookup per 15 minutes of UTC.
            var dayOfQuarter = new Dictionary<long, int>();
            await using (var cmd = conn.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = $"SELECT name, device_ordinal, user_ordinal, occurred_at, revenue FROM events WHERE app_id = {appId}";
                await using var r = await cmd.ExecuteReaderAsync(ct);
                string? lastName = null;
                while (await r.ReadAsync(ct))
                {
                    var name = r.GetString(0);
                    if (name == lastName) name = lastName; else lastName = name;
                    var at = r.GetInt64(3);
                    var quarter = Math.DivRem(at, 900_000, out var rem) - (rem < 0 ? 1 : 0);
                    if (!dayOfQuarter.TryGetValue(quarter, out var day)) dayOfQuarter[quarter] = day = days.DayOf(quarter * 900_000);
                    if (!groups.TryGetValue((name, day), out var acc)) groups[(name, day)] = acc = new Acc();
                    acc.Add(r.IsDBNull(1) ? null : r.GetInt32(1), r.IsDBNull(2) ? null : r.GetInt32(2), r.IsDBNull(4) ? null : r.GetDouble(4));
                    read++;
                }
            }
            var version = Random.Shared.NextInt64(1L << 40, 1L << 61);
            var rows = groups.Select(g => (g.Key.Name, new DayRollup(g.Key.Day, version,
                RoaringBitmap.FromValues(g.Value.Devices.ToArray()), RoaringBitmap.FromValues(g.Value.Users.ToArray()), g.Value.Count, g.Value.Revenue))).ToList();
            await InsertAllAsync(conn, tx, appId, rows, ct);
            await conn.ExecuteAsync("UPDATE analytics_state SET timezone = @current, rebuilt_at = @now WHERE app_id = @appId",
                new { appId, current, now = clock.GetUtcNow().ToUnixTimeMilliseconds() }, tx);
            await tx.CommitAsync(ct);
            LogRebuilt(logger, appId, read, rows.Count, current, clock.GetElapsedTime(started).TotalMilliseconds);
        }
        finally
        {
            Release();
        }
        Cache.RemoveApp(appId);
        return read;
    }

    private async Task InsertAllAsync(DbConnection conn, DbTransaction tx, long appId, List<(string Name, DayRollup Row)> rows, CancellationToken ct)
    {
        if (conn is NpgsqlConnection pg)
        {
            await using var copy = await pg.BeginBinaryImportAsync(
                "COPY event_rollups (app_id, name, day, devices, users, event_count, revenue, version) FROM STDIN (FORMAT BINARY)", ct);
            foreach (var (name, row) in rows)
            {
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(appId, NpgsqlDbType.Bigint, ct);
                await copy.WriteAsync(name, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(row.Day, NpgsqlDbType.Integer, ct);
                await copy.WriteAsync(row.Devices.Serialize(), NpgsqlDbType.Bytea, ct);
                await copy.WriteAsync(row.Users.Serialize(), NpgsqlDbType.Bytea, ct);
                await copy.WriteAsync(row.Count, NpgsqlDbType.Bigint, ct);
                await copy.WriteAsync(row.Revenue, NpgsqlDbType.Double, ct);
                await copy.WriteAsync(row.Version, NpgsqlDbType.Bigint, ct);
            }
            await copy.CompleteAsync(ct);
            return;
        }
        await WriteAsync(conn, tx, appId, rows);
    }

    /// <summary>Rollups of one event for days [from, to], oldest first; days without events are absent.</summary>
    public async Task<IReadOnlyList<DayRollup>> RangeAsync(long appId, string name, int from, int to, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var versions = (await conn.QueryAsync<(long Day, long Version)>(
            "SELECT CAST(day AS bigint), version FROM event_rollups WHERE app_id = @appId AND name = @name AND day BETWEEN @from AND @to ORDER BY day",
            new { appId, name, from, to })).ToList();
        var result = new List<DayRollup>(versions.Count);
        var stale = new HashSet<int>();
        foreach (var (day, version) in versions)
        {
            if (Cache.TryGet(new(appId, name, (int)day), version, out var hit)) result.Add(hit);
            else stale.Add((int)day);
        }
        if (stale.Count > 0)
        {
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = "SELECT name, day, devices, users, event_count, revenue, version FROM event_rollups WHERE app_id = @app AND name = @name AND day BETWEEN @from AND @to";
            Add(cmd, "@app", appId);
            Add(cmd, "@name", name);
            Add(cmd, "@from", stale.Min());
            Add(cmd, "@to", stale.Max());
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                if (!stale.Contains(r.GetInt32(1))) continue;
                var row = ReadRow(r, 1);
                Cache.Put(new(appId, name, row.Day), row);
                result.Add(row);
            }
            result.Sort((a, b) => a.Day.CompareTo(b.Day));
        }
        return result;
    }

    /// <summary>Total stored events of one name (all days), or null when the app never had one.</summary>
    public async Task<long?> TotalCountAsync(long appId, string name, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        return await conn.ExecuteScalarAsync<long?>(
            "SELECT sum(event_count) FROM event_rollups WHERE app_id = @appId AND name = @name", new { appId, name });
    }

    private static DayRollup ReadRow(DbDataReader r, int first) => new(
        r.GetInt32(first), r.GetInt64(first + 5),
        RoaringBitmap.Deserialize(r.GetFieldValue<byte[]>(first + 1)), RoaringBitmap.Deserialize(r.GetFieldValue<byte[]>(first + 2)),
        r.GetInt64(first + 3), r.GetDouble(first + 4));

    private static async Task<(string? Current, string? Stored)> ReadTimezonesAsync(DbConnection conn, DbTransaction? tx, long appId, string? lockMode = null)
    {
        if (lockMode is not null)
            await conn.ExecuteAsync($"SELECT 1 FROM analytics_state WHERE app_id = @appId {lockMode}", new { appId }, tx);
        var row = await conn.QueryFirstOrDefaultAsync<(string Current, string? Stored)>(
            "SELECT a.timezone, s.timezone FROM apps a LEFT JOIN analytics_state s ON s.app_id = a.id WHERE a.id = @appId",
            new { appId }, tx);
        return (row.Current, row.Stored);
    }

    private static void Add(DbCommand cmd, string name, object value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        cmd.Parameters.Add(p);
    }

    private Task GateAsync() => db.IsPostgres ? Task.CompletedTask : _sqliteGate.WaitAsync();

    private void Release()
    {
        if (!db.IsPostgres) _sqliteGate.Release();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rebuilt rollups of app {AppId}: {Events} events into {Rows} day rows ({Timezone}) in {Milliseconds:0} ms")]
    private static partial void LogRebuilt(ILogger logger, long appId, long events, int rows, string timezone, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rollup merge of app {AppId} met a concurrent merge (attempt {Attempt}); retrying")]
    private static partial void LogMergeRetry(ILogger logger, long appId, int attempt);
}
