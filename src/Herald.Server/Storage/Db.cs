using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.Server.Storage;

/// <summary>
/// The one way to reach the database. Hand-written SQL is shared between the engines wherever the
/// two dialects agree (ON CONFLICT, RETURNING, CTEs); <see cref="Provider"/> picks the rest.
/// </summary>
public sealed class Db : IAsyncDisposable
{
    private readonly NpgsqlDataSource? _postgres;
    private readonly string? _sqlite;

    public Db(IOptions<StorageOptions> options)
    {
        var o = options.Value;
        Provider = o.Provider;
        if (o.Provider == StorageProvider.Postgres)
        {
            if (string.IsNullOrWhiteSpace(o.ConnectionString))
                throw new InvalidOperationException($"{StorageOptions.Section}:ConnectionString is required when {StorageOptions.Section}:Provider is Postgres.");
            _postgres = new NpgsqlDataSourceBuilder(o.ConnectionString).Build();
        }
        else
        {
            var cs = o.ConnectionString;
            if (string.IsNullOrWhiteSpace(cs))
            {
                Directory.CreateDirectory(o.DataDirectory);
                cs = $"Data Source={Path.Combine(o.DataDirectory, "herald.db")}";
            }
            // Pooling keeps the per-connection PRAGMAs below cheap; the busy timeout lets readers
            // and the single writer share the file without SQLITE_BUSY surfacing to users.
            _sqlite = new SqliteConnectionStringBuilder(cs) { Pooling = true, DefaultTimeout = 30 }.ToString();
        }
    }

    public StorageProvider Provider { get; }

    public bool IsPostgres => Provider == StorageProvider.Postgres;

    /// <summary>
    /// "column is in the list parameter": Dapper expands <c>IN @list</c> for SQLite, while Npgsql
    /// takes the list as one array parameter.
    /// </summary>
    public string In(string column, string parameter) => IsPostgres ? $"{column} = ANY(@{parameter})" : $"{column} IN @{parameter}";

    public NpgsqlDataSource PostgresSource => _postgres ?? throw new InvalidOperationException("Not a PostgreSQL store.");

    public async Task<DbConnection> OpenAsync(CancellationToken ct = default)
    {
        if (_postgres is not null)
            return await _postgres.OpenConnectionAsync(ct);
        var c = new SqliteConnection(_sqlite);
        await c.OpenAsync(ct);
        using var cmd = c.CreateCommand();
        // WAL lets readers run beside the writer; synchronous=FULL makes every commit durable
        // before we answer 2xx (NORMAL could lose the last commits on power loss).
        cmd.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;";
        await cmd.ExecuteNonQueryAsync(ct);
        return c;
    }

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null)
            await _postgres.DisposeAsync();
    }
}
