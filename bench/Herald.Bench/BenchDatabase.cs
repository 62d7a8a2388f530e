using Dapper;
using Herald.Server.Storage;
using Herald.Sim.Local;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Bench;

/// <summary>A durable PostgreSQL database with Herald's schema and one app, for benchmarks that load rows straight in.</summary>
public sealed class BenchDatabase : IAsyncDisposable
{
    private readonly PostgresCluster _cluster;
    public Db Db { get; }
    public long AppId { get; }

    private BenchDatabase(PostgresCluster cluster, Db db, long appId) => (_cluster, Db, AppId) = (cluster, db, appId);

    public static async Task<BenchDatabase> CreateAsync(TimeProvider clock)
    {
        var cluster = await PostgresCluster.StartAsync(durable: true, "HERALD_BENCH_PG");
        var cs = await cluster.CreateDatabaseAsync($"herald_bench_{Guid.NewGuid():N}");
        var db = new Db(Options.Create(new StorageOptions { Provider = StorageProvider.Postgres, ConnectionString = cs }));
        await new Migrator(db, clock, NullLogger<Migrator>.Instance).MigrateAsync();
        await using var conn = await db.OpenAsync();
        var appId = await conn.ExecuteScalarAsync<long>("INSERT INTO apps (name, timezone, vapid_public_key, vapid_private_key, created_at) VALUES ('bench', 'UTC', 'x', 'x', 0) RETURNING id");
        return new BenchDatabase(cluster, db, appId);
    }

    /// <summary>COPYs <paramref name="devices"/> devices (ordinals 0…n−1, installation ids from <paramref name="installationId"/>).</summary>
    public async Task CopyDevicesAsync(NpgsqlConnection conn, int devices, long now, Func<int, string> installationId, Func<int, string> platform, Func<int, bool> pushEnabled)
    {
        await using var copy = await conn.BeginBinaryImportAsync("COPY devices (app_id, ordinal, installation_id, platform, push_enabled, created_at, updated_at, last_seen_at) FROM STDIN (FORMAT BINARY)");
        for (var d = 0; d < devices; d++)
        {
            await copy.StartRowAsync();
            await copy.WriteAsync(AppId, NpgsqlDbType.Bigint);
            await copy.WriteAsync(d, NpgsqlDbType.Integer);
            await copy.WriteAsync(installationId(d), NpgsqlDbType.Text);
            await copy.WriteAsync(platform(d), NpgsqlDbType.Text);
            await copy.WriteAsync(pushEnabled(d), NpgsqlDbType.Boolean);
            await copy.WriteAsync(0L, NpgsqlDbType.Bigint);
            await copy.WriteAsync(0L, NpgsqlDbType.Bigint);
            await copy.WriteAsync(now, NpgsqlDbType.Bigint);
        }
        await copy.CompleteAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Db.DisposeAsync();
        await _cluster.DisposeAsync();
    }
}
