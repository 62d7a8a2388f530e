using System.Data.Common;
using System.Reflection;
using Dapper;

namespace Herald.Server.Storage;

/// <summary>
/// Applies the numbered <c>.sql</c> files of the current dialect (embedded resources under
/// Storage/Migrations/{sqlite|postgres}) once each, recording them in <c>schema_migrations</c>.
/// </summary>
public sealed partial class Migrator(Db db, TimeProvider clock, ILogger<Migrator> logger)
{
    // Any constant works: it only has to be the same on every node sharing the database.
    private const long PostgresLockKey = 0x4845_5241_4c44;

    /// <param name="ct">Cancels between statements.</param>
    /// <param name="upTo">Stop after this version (tests of an upgrade path); all of them when null.</param>
    public async Task MigrateAsync(CancellationToken ct = default, int? upTo = null)
    {
        await using var conn = await db.OpenAsync(ct);
        if (db.IsPostgres)
            await conn.ExecuteAsync("SELECT pg_advisory_lock(@k)", new { k = PostgresLockKey });
        try
        {
            await conn.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)");
            var applied = (await conn.QueryAsync<int>("SELECT version FROM schema_migrations")).ToHashSet();
            foreach (var (version, name, sql) in Scripts(db.Provider))
            {
                if (applied.Contains(version)) continue;
                if (version > upTo) break;
                await using var tx = await conn.BeginTransactionAsync(ct);
                await conn.ExecuteAsync(sql, transaction: tx);
                await conn.ExecuteAsync("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @at)",
                    new { version, name, at = clock.GetUtcNow().ToUnixTimeMilliseconds() }, tx);
                await tx.CommitAsync(ct);
                LogApplied(logger, version, name, db.Provider);
            }
        }
        finally
        {
            if (db.IsPostgres)
                await conn.ExecuteAsync("SELECT pg_advisory_unlock(@k)", new { k = PostgresLockKey });
        }
    }

    public static async Task<bool> IsCurrentAsync(DbConnection conn, StorageProvider provider)
    {
        var latest = Scripts(provider).Max(s => s.Version);
        var have = await conn.ExecuteScalarAsync<int?>("SELECT max(version) FROM schema_migrations");
        return have == latest;
    }

    internal static IEnumerable<(int Version, string Name, string Sql)> Scripts(StorageProvider provider)
    {
        var asm = Assembly.GetExecutingAssembly();
        var folder = provider == StorageProvider.Postgres ? ".postgres." : ".sqlite.";
        var list = new List<(int, string, string)>();
        foreach (var res in asm.GetManifestResourceNames())
        {
            var i = res.IndexOf(folder, StringComparison.Ordinal);
            if (i < 0 || !res.EndsWith(".sql", StringComparison.Ordinal)) continue;
            var file = res[(i + folder.Length)..^4];
            var version = int.Parse(file.AsSpan(0, file.IndexOf('_')), System.Globalization.CultureInfo.InvariantCulture);
            using var s = asm.GetManifestResourceStream(res)!;
            using var r = new StreamReader(s);
            list.Add((version, file, r.ReadToEnd()));
        }
        return list.OrderBy(x => x.Item1);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {Version} {Name} ({Provider})")]
    private static partial void LogApplied(ILogger logger, int version, string name, StorageProvider provider);
}
