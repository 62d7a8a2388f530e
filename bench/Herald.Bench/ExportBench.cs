using System.Diagnostics;
using System.Globalization;
using Dapper;
using Herald.Server.Exports;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Bench;

// `export [--devices N] [--events M]`: Herald's raw-events CSV export (R-AN-5) against PostgreSQL
// writing the same rows as CSV itself (COPY (SELECT …) TO STDOUT, the timestamps formatted the same
// way), same data, same run, alternating; both outputs are read to the end and counted.
public static class ExportBench
{
    private const int Names = 20, Days = 30;

    public static async Task<int> RunAsync(string[] args)
    {
        int devices = Stats.Arg(args, "--devices", 200_000), events = Stats.Arg(args, "--events", 2_000_000), rounds = Stats.Arg(args, "--rounds", 3);
        var clock = TimeProvider.System;
        await using var bench = await BenchDatabase.CreateAsync(clock);
        var db = bench.Db;
        var appId = bench.AppId;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using (var conn = (NpgsqlConnection)await db.OpenAsync())
        {
            await bench.CopyDevicesAsync(conn, devices, now, d => $"installation-{d:D8}", d => d % 2 == 0 ? "ios" : "android", _ => true);
            var rng = new Random(42);
            await using (var copy = await conn.BeginBinaryImportAsync("COPY events (app_id, message_id, name, device_ordinal, occurred_at, received_at, properties, revenue, currency) FROM STDIN (FORMAT BINARY)"))
            {
                for (var i = 0; i < events; i++)
                {
                    var e = rng.Next(Names);
                    await copy.StartRowAsync();
                    await copy.WriteAsync(appId, NpgsqlDbType.Bigint);
                    await copy.WriteAsync(Guid.NewGuid().ToString(), NpgsqlDbType.Text);
                    await copy.WriteAsync($"event_{e:00}", NpgsqlDbType.Text);
                    await copy.WriteAsync(rng.Next(devices), NpgsqlDbType.Integer);
                    await copy.WriteAsync(now - rng.NextInt64(0, Days * 86_400_000L), NpgsqlDbType.Bigint);
                    await copy.WriteAsync(now, NpgsqlDbType.Bigint);
                    // Quotes and commas: both sides must quote these fields.
                    await copy.WriteAsync($$"""{"query":"kırmızı, ayakkabı {{i % 97}}","page":{{i % 13}}}""", NpgsqlDbType.Text);
                    if (e == 0) { await copy.WriteAsync(99.9 + i % 100, NpgsqlDbType.Double); await copy.WriteAsync("TRY", NpgsqlDbType.Text); }
                    else { await copy.WriteNullAsync(); await copy.WriteNullAsync(); }
                }
                await copy.CompleteAsync();
            }
            await conn.ExecuteAsync("ANALYZE events; ANALYZE devices; ANALYZE users");
        }
        Console.WriteLine($"loaded {devices:N0} devices and {events:N0} events over {Days} days");

        var export = new EventExport(db);
        var names = Enumerable.Range(0, Names).Select(n => $"event_{n:00}").ToList();
        long from = now - (Days + 1) * 86_400_000L, to = now + 1;
        var ours = new List<double>();
        var theirs = new List<double>();
        long ourRows = 0, ourBytes = 0, theirBytes = 0;
        for (var r = 0; r < rounds; r++)
        {
            var counting = new CountingStream();
            var sw = Stopwatch.StartNew();
            ourRows = await export.WriteCsvAsync(appId, from, to, names, counting, CancellationToken.None);
            ours.Add(sw.Elapsed.TotalSeconds);
            ourBytes = counting.Length;

            sw.Restart();
            await using (var conn = (NpgsqlConnection)await db.OpenAsync())
            {
                using var reader = await conn.BeginTextExportAsync(string.Create(CultureInfo.InvariantCulture, $"""
                    COPY (SELECT to_char(to_timestamp(e.occurred_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), e.name, e.message_id,
                                 d.installation_id, u.external_id, e.revenue, e.currency, e.utm_source, e.utm_medium, e.utm_campaign, e.properties
                          FROM events e
                          LEFT JOIN devices d ON d.app_id = e.app_id AND d.ordinal = e.device_ordinal
                          LEFT JOIN users u ON u.app_id = e.app_id AND u.ordinal = e.user_ordinal
                          WHERE e.app_id = {appId} AND e.occurred_at >= {from} AND e.occurred_at < {to}
                          ORDER BY e.name, e.occurred_at, e.message_id) TO STDOUT WITH (FORMAT csv, HEADER true)
                    """));
                var buffer = new char[1 << 16];
                long chars = 0;
                int n;
                while ((n = await reader.ReadAsync(buffer, 0, buffer.Length)) > 0) chars += n;
                theirBytes = chars;
            }
            theirs.Add(sw.Elapsed.TotalSeconds);
            Console.WriteLine($"round {r + 1}: Herald {ours[^1]:0.00} s ({ourRows / ours[^1]:N0} rows/s), PostgreSQL COPY TO csv {theirs[^1]:0.00} s ({events / theirs[^1]:N0} rows/s)");
        }
        var ratio = Stats.Median(theirs) / Stats.Median(ours);
        Console.WriteLine($"events CSV export of {ourRows:N0} rows ({ourBytes / 1e6:0} MB; PostgreSQL's CSV {theirBytes / 1e6:0} M characters): Herald median {Stats.Median(ours):0.00} s, COPY TO median {Stats.Median(theirs):0.00} s -> Herald at {ratio:0.00}x COPY's throughput");
        return ourRows == events ? 0 : 1;
    }

    /// <summary>Discards what is written and counts it.</summary>
    private sealed class CountingStream : Stream
    {
        private long _length;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => _length += count;
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _length += buffer.Length;
            return ValueTask.CompletedTask;
        }
    }
}
