using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Herald.Sim.Local;

/// <summary>
/// A throwaway PostgreSQL cluster on 127.0.0.1 for tests, benchmarks and the demo, or the server
/// named by an environment variable (HERALD_TEST_PG unless told otherwise: an Npgsql connection string to a database we may
/// create databases from). As root, initdb and postgres refuse to run, so they run as the
/// <c>postgres</c> user.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private readonly string? _dir;
    private readonly string _bin = "";
    private readonly bool _asRoot;

    public string AdminConnectionString { get; }

    private PostgresCluster(string admin, string? dir, string bin, bool asRoot)
    {
        AdminConnectionString = admin;
        _dir = dir;
        _bin = bin;
        _asRoot = asRoot;
    }

    /// <param name="durable">false for tests: fsync and synchronous commit off. Benchmarks that claim durability pass true.</param>
    /// <param name="externalVariable">Environment variable naming an existing server to use instead.</param>
    public static async Task<PostgresCluster> StartAsync(bool durable, string externalVariable = "HERALD_TEST_PG")
    {
        var external = Environment.GetEnvironmentVariable(externalVariable);
        if (!string.IsNullOrWhiteSpace(external))
            return new PostgresCluster(external, null, "", false);

        var bin = Run("pg_config", "--bindir", null, asPostgres: false).Trim();
        if (bin.Length == 0 || !File.Exists(Path.Combine(bin, "initdb")))
            throw new InvalidOperationException("PostgreSQL server binaries not found. Fix: apt-get install -y postgresql (or set HERALD_TEST_PG to a connection string).");
        var asRoot = Environment.UserName == "root";
        var dir = Path.Combine(Path.GetTempPath(), $"herald-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        if (asRoot)
        {
            Run("chown", $"postgres:postgres {dir}", null, asPostgres: false);
            Run("chmod", "700 " + dir, null, asPostgres: false);
        }
        var port = FreePort();
        Run(Path.Combine(bin, "initdb"), $"-D {dir}/data -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8", null, asRoot);
        // Test-only speed settings: the tests check behaviour, not crash durability of the test cluster.
        var speed = durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
        Run(Path.Combine(bin, "pg_ctl"),
            $"-D {dir}/data -w -t 60 -l {dir}/log -o \"-p {port} -c listen_addresses=127.0.0.1 -k {dir}{speed} -c max_connections=300\" start",
            null, asRoot);
        var cluster = new PostgresCluster($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=false", dir, bin, asRoot);
        await Task.CompletedTask;
        return cluster;
    }

    /// <summary>
    /// CPU time the cluster has used so far (postmaster, live backends and the reaped ones it waited
    /// for), read from /proc; null for an external cluster. Lets benchmarks on a shared machine report
    /// CPU per operation, which other tenants do not disturb the way they disturb wall time.
    /// </summary>
    public TimeSpan? CpuTime
    {
        get
        {
            if (_dir is null || !OperatingSystem.IsLinux()) return null;
            var pidFile = Path.Combine(_dir, "data", "postmaster.pid");
            if (!File.Exists(pidFile) || !int.TryParse(File.ReadLines(pidFile).First(), out var postmaster)) return null;
            long ticks = 0;
            foreach (var proc in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(proc), out var pid)) continue;
                string stat;
                try { stat = File.ReadAllText(Path.Combine(proc, "stat")); } catch (IOException) { continue; }
                // Fields after the parenthesised command: state ppid ... utime(14) stime(15) cutime(16) cstime(17).
                var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var ppid = int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture);
                long Field(int n) => long.Parse(f[n - 3], System.Globalization.CultureInfo.InvariantCulture);
                if (pid == postmaster) ticks += Field(14) + Field(15) + Field(16) + Field(17);
                else if (ppid == postmaster) ticks += Field(14) + Field(15);
            }
            return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ
        }
    }

    public int Port => new Npgsql.NpgsqlConnectionStringBuilder(AdminConnectionString).Port;

    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var conn = new Npgsql.NpgsqlConnection(AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = $"CREATE DATABASE \"{name}\"";
        await cmd.ExecuteNonQueryAsync();
        var b = new Npgsql.NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name, Pooling = true, MaxPoolSize = 50 };
        return b.ConnectionString;
    }

    public ValueTask DisposeAsync()
    {
        if (_dir is not null)
        {
            try { Run(Path.Combine(_bin, "pg_ctl"), $"-D {_dir}/data -m immediate stop", null, _asRoot); }
            catch (InvalidOperationException) { /* already gone */ }
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return ValueTask.CompletedTask;
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static string Run(string file, string args, string? cwd, bool asPostgres)
    {
        var psi = asPostgres
            ? new ProcessStartInfo("runuser", $"-u postgres -- {file} {args}")
            : new ProcessStartInfo(file, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = cwd ?? Path.GetTempPath();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {args} failed ({p.ExitCode}): {stderr.Result}{stdout.Result}");
        return stdout.Result;
    }
}
