using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Herald.Sim.Local;
using Herald.Sim.Simulation;
using Npgsql;

namespace Herald.Bench;

/// <summary>
/// Durable ingest: N events posted over HTTP in batches of 50 by concurrent clients to a running
/// Herald (separate process), each request acknowledged only after commit — against, in the same
/// run and on the same PostgreSQL cluster, <c>psql \copy</c> of the same rows into a table of the same
/// schema and indexes. The cluster runs with its durable defaults (fsync on, synchronous commit).
/// Then the same load against Herald on SQLite, beside a raw one-transaction prepared insert.
/// Usage: ingest [--events N] [--clients C] [--rounds R] [--devices D] [--postgres-only]
/// </summary>
public static class IngestBench
{
    private const int BatchSize = 50;

    public static async Task<int> RunAsync(string[] args)
    {
        var events = Stats.Arg(args, "--events", 1_000_000);
        var clients = Stats.Arg(args, "--clients", 32);
        var rounds = Stats.Arg(args, "--rounds", 3);
        var devices = Stats.Arg(args, "--devices", 10_000);
        var sqlite = !args.Contains("--postgres-only");
        Console.WriteLine($"ingest: {events:N0} events, batches of {BatchSize}, {clients} clients, {rounds} rounds, {devices:N0} devices, {Environment.ProcessorCount} cores");

        await using var pg = await PostgresCluster.StartAsync(durable: true, externalVariable: "HERALD_BENCH_PG");
        var cs = await pg.CreateDatabaseAsync($"bench_{Guid.NewGuid():N}");
        var pgHerald = new List<double>();
        var pgCopy = new List<double>();
        await using (var herald = await HeraldProcess.StartAsync(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Herald.Server.Ingest.IngestWriter"] = Environment.GetEnvironmentVariable("HERALD_BENCH_WRITER_LOG") ?? "Warning",
            ["Herald:Storage:Provider"] = "Postgres",
            ["Herald:Storage:ConnectionString"] = cs,
        }, Log, CancellationToken.None))
        {
            var ids = await RegisterDevicesAsync(herald, devices, clients);
            var bodies = Bodies(ids, events);
            for (var r = 0; r < rounds; r++)
            {
                await Exec(cs, "TRUNCATE events");
                var cpu0 = herald.CpuTime;
                var self0 = Process.GetCurrentProcess().TotalProcessorTime;
                var rate = await PostAllAsync(herald, bodies, clients, events);
                var heraldCpu = (herald.CpuTime - cpu0).TotalMicroseconds / events;
                var clientCpu = (Process.GetCurrentProcess().TotalProcessorTime - self0).TotalMicroseconds / events;
                Console.WriteLine($"  cpu per event: herald {heraldCpu:0.0} µs, load client {clientCpu:0.0} µs");
                var stored = await Scalar(cs, "SELECT count(*) FROM events");
                if (stored != events) throw new InvalidOperationException($"stored {stored} events, expected {events}");
                pgHerald.Add(rate);

                var copyRate = await PsqlCopyAsync(pg, cs, ids, events);
                pgCopy.Add(copyRate);
                Console.WriteLine($"  round {r + 1}: herald {rate,10:N0} events/s   psql \\copy {copyRate,10:N0} events/s   ratio {rate / copyRate:0.00}");
            }
        }

        var sqliteHerald = new List<double>();
        var sqliteRaw = new List<double>();
        var dir = Path.Combine(Path.GetTempPath(), $"herald-bench-{Guid.NewGuid():N}");
        if (sqlite)
        await using (var herald = await HeraldProcess.StartAsync(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Herald.Server.Ingest.IngestWriter"] = Environment.GetEnvironmentVariable("HERALD_BENCH_WRITER_LOG") ?? "Warning",
            ["Herald:Storage:Provider"] = "Sqlite",
            ["Herald:Storage:DataDirectory"] = dir,
        }, Log, CancellationToken.None))
        {
            var ids = await RegisterDevicesAsync(herald, devices, clients);
            var bodies = Bodies(ids, events);
            for (var r = 0; r < rounds; r++)
            {
                SqliteExec(dir, "DELETE FROM events");
                var rate = await PostAllAsync(herald, bodies, clients, events);
                sqliteHerald.Add(rate);
                var raw = RawSqliteInsert(dir, ids, events);
                sqliteRaw.Add(raw);
                Console.WriteLine($"  sqlite round {r + 1}: herald {rate,10:N0} events/s   raw insert {raw,10:N0} events/s   ratio {rate / raw:0.00}");
            }
        }
        try { Directory.Delete(dir, true); } catch (IOException) { }

        Console.WriteLine();
        Console.WriteLine("| engine | Herald over HTTP (median events/s) | peer (median events/s) | ratio |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine($"| PostgreSQL | {Stats.Median(pgHerald):N0} | psql \\copy {Stats.Median(pgCopy):N0} | {Stats.Median(pgHerald) / Stats.Median(pgCopy):0.00} |");
        if (sqlite)
            Console.WriteLine($"| SQLite | {Stats.Median(sqliteHerald):N0} | raw prepared insert, one transaction {Stats.Median(sqliteRaw):N0} | {Stats.Median(sqliteHerald) / Stats.Median(sqliteRaw):0.00} |");
        return 0;
    }

    private static void Log(string line) => Console.Error.WriteLine(line);


    private static async Task<string[]> RegisterDevicesAsync(HeraldProcess herald, int count, int clients)
    {
        using var http = Client(herald, herald.SdkKey!, clients);
        var ids = new string[count];
        var platforms = new[] { "ios", "android", "web" };
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = clients }, async (i, ct) =>
        {
            using var res = await http.PostAsJsonAsync("/sdk/v1/devices", new { platform = platforms[i % 3], pushToken = $"tok-{i}", pushEnabled = true, timezone = "Europe/Istanbul" }, ct);
            res.EnsureSuccessStatusCode();
            ids[i] = (await res.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("installationId").GetString()!;
        });
        return ids;
    }

    private static readonly string[] Names = ["app_open", "view_item", "search", "add_to_cart", "purchase", "push_opened", "page_view", "session_time"];
    private static readonly DateTimeOffset Start = DateTimeOffset.UtcNow.AddDays(-2);

    /// <summary>Event i, the same in every engine and for the peer: (device, name, time, properties).</summary>
    private static (int Device, string Name, long At, string Props) Row(int i, int devices) =>
        (i % devices, Names[i % Names.Length], Start.AddMilliseconds(i * 37L).ToUnixTimeMilliseconds(),
         $$"""{"sku":"SKU-{{i % 997}}","price":{{i % 500}}.5,"query":"kırmızı {{i % 13}}"}""");

    private static byte[][] Bodies(string[] ids, int events)
    {
        var bodies = new byte[events / BatchSize][];
        var sb = new StringBuilder(8192);
        for (var b = 0; b < bodies.Length; b++)
        {
            sb.Clear();
            // A batch comes from one device, as an SDK sends it.
            var device = ids[(b * BatchSize) % ids.Length];
            sb.Append("{\"installationId\":\"").Append(device).Append("\",\"events\":[");
            for (var k = 0; k < BatchSize; k++)
            {
                var i = b * BatchSize + k;
                var (_, name, at, props) = Row(i, ids.Length);
                if (k > 0) sb.Append(',');
                sb.Append("{\"messageId\":\"m-").Append(i).Append("\",\"name\":\"").Append(name)
                  .Append("\",\"timestamp\":").Append(at).Append(",\"attributes\":").Append(props).Append('}');
            }
            sb.Append("]}");
            bodies[b] = Encoding.UTF8.GetBytes(sb.ToString());
        }
        return bodies;
    }

    private static HttpClient Client(HeraldProcess herald, string key, int clients)
    {
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = clients, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        var http = new HttpClient(handler) { BaseAddress = herald.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    private static async Task<double> PostAllAsync(HeraldProcess herald, byte[][] bodies, int clients, int events)
    {
        using var http = Client(herald, herald.SdkKey!, clients);
        var next = -1;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            int b;
            while ((b = Interlocked.Increment(ref next)) < bodies.Length)
            {
                using var content = new ByteArrayContent(bodies[b]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var res = await http.PostAsync("/sdk/v1/events", content);
                if (!res.IsSuccessStatusCode)
                    throw new InvalidOperationException($"batch {b}: {(int)res.StatusCode} {await res.Content.ReadAsStringAsync()}");
            }
        }));
        return events / sw.Elapsed.TotalSeconds;
    }

    /// <summary>The peer: the same rows as a CSV file loaded with psql's \copy into a same-schema table.</summary>
    private static async Task<double> PsqlCopyAsync(PostgresCluster pg, string cs, string[] ids, int events)
    {
        await Exec(cs, "DROP TABLE IF EXISTS events_peer; CREATE TABLE events_peer (LIKE events INCLUDING ALL)");
        var ordinals = (await Query(cs, "SELECT installation_id, ordinal FROM devices")).ToDictionary(r => (string)r[0], r => (int)r[1]);
        var file = Path.Combine(Path.GetTempPath(), $"events-{Guid.NewGuid():N}.csv");
        var received = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await using (var w = new StreamWriter(file, false, new UTF8Encoding(false)))
        {
            for (var i = 0; i < events; i++)
            {
                var (_, name, at, props) = Row(i, ids.Length);
                var device = ordinals[ids[((i / BatchSize) * BatchSize) % ids.Length]];
                await w.WriteLineAsync($"1,m-{i},{name},{device},,{at},{received},\"{props.Replace("\"", "\"\"", StringComparison.Ordinal)}\",,,,,,,");
            }
        }
        var b = new NpgsqlConnectionStringBuilder(cs);
        var psi = new ProcessStartInfo("psql", $"-h 127.0.0.1 -p {b.Port} -U {b.Username} -d {b.Database} -v ON_ERROR_STOP=1 -c \"\\copy events_peer (app_id, message_id, name, device_ordinal, user_ordinal, occurred_at, received_at, properties, revenue, currency, utm_source, utm_medium, utm_campaign, utm_term, utm_content) FROM '{file}' WITH (FORMAT csv)\"")
        { RedirectStandardOutput = true, RedirectStandardError = true };
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        var elapsed = sw.Elapsed;
        File.Delete(file);
        if (p.ExitCode != 0) throw new InvalidOperationException($"psql failed: {await err}");
        if (await Scalar(cs, "SELECT count(*) FROM events_peer") != events) throw new InvalidOperationException("psql copied the wrong number of rows");
        return events / elapsed.TotalSeconds;
    }

    private static double RawSqliteInsert(string dir, string[] ids, int events)
    {
        using var conn = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dir, "herald.db")}");
        conn.Open();
        using (var c = conn.CreateCommand())
        {
            c.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; DROP TABLE IF EXISTS events_peer; CREATE TABLE events_peer AS SELECT * FROM events WHERE 0; CREATE UNIQUE INDEX events_peer_pk ON events_peer (app_id, message_id); CREATE INDEX events_peer_a ON events_peer (app_id, name, occurred_at); CREATE INDEX events_peer_b ON events_peer (app_id, device_ordinal, occurred_at); CREATE INDEX events_peer_c ON events_peer (app_id, user_ordinal, occurred_at);";
            c.ExecuteNonQuery();
        }
        var sw = Stopwatch.StartNew();
        using var tx = conn.BeginTransaction();
        using var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO events_peer (app_id, message_id, name, device_ordinal, occurred_at, received_at, properties) VALUES (1, $m, $n, $d, $o, $r, $p)";
        var pm = cmd.Parameters.Add("$m", Microsoft.Data.Sqlite.SqliteType.Text);
        var pn = cmd.Parameters.Add("$n", Microsoft.Data.Sqlite.SqliteType.Text);
        var pd = cmd.Parameters.Add("$d", Microsoft.Data.Sqlite.SqliteType.Integer);
        var po = cmd.Parameters.Add("$o", Microsoft.Data.Sqlite.SqliteType.Integer);
        var pr = cmd.Parameters.Add("$r", Microsoft.Data.Sqlite.SqliteType.Integer);
        var pp = cmd.Parameters.Add("$p", Microsoft.Data.Sqlite.SqliteType.Text);
        cmd.Prepare();
        var received = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < events; i++)
        {
            var (device, name, at, props) = Row(i, ids.Length);
            pm.Value = $"m-{i}"; pn.Value = name; pd.Value = device; po.Value = at; pr.Value = received; pp.Value = props;
            cmd.ExecuteNonQuery();
        }
        tx.Commit();
        return events / sw.Elapsed.TotalSeconds;
    }

    private static void SqliteExec(string dir, string sql)
    {
        using var conn = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dir, "herald.db")}");
        conn.Open();
        using var c = conn.CreateCommand();
        c.CommandText = sql;
        c.ExecuteNonQuery();
    }

    private static async Task Exec(string cs, string sql)
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<long> Scalar(string cs, string sql)
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task<List<object[]>> Query(string cs, string sql)
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var r = await cmd.ExecuteReaderAsync();
        var list = new List<object[]>();
        while (await r.ReadAsync())
        {
            var row = new object[r.FieldCount];
            r.GetValues(row);
            list.Add(row);
        }
        return list;
    }
}
