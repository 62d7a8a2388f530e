using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Server.Apps;
using Herald.Sim.Local;
using Herald.Sim.Providers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Tests.Support;

/// <summary>A test app (tenant) with its keys: each test makes its own, so no test sees another's data.</summary>
public sealed record TestApp(long Id, string SdkKey, string RestKey, Func<HttpClient> NewClient)
{
    public HttpClient Sdk() => With(SdkKey);
    public HttpClient Rest() => With(RestKey);

    private HttpClient With(string key)
    {
        var c = NewClient();
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return c;
    }
}

/// <summary>The real Herald host on one storage engine, booted once per test collection.</summary>
public abstract class HeraldHost : IAsyncLifetime
{
    private WebApplicationFactory<Program>? _factory;
    public string AdminKey { get; private set; } = "";
    public ManualClock Clock { get; } = new(DateTimeOffset.Parse("2026-11-25T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    public abstract string Engine { get; }

    protected abstract Task<Dictionary<string, string?>> SettingsAsync();

    public IServiceProvider Services => _factory!.Services;

    /// <summary>Loopback FCM, APNs, web push and SMS servers the host's gateways are pointed at.</summary>
    public LoopbackProviders Providers { get; private set; } = null!;

    public HttpClient Client() => _factory!.CreateClient();

    public HttpClient Client(WebApplicationFactoryClientOptions options) => _factory!.CreateClient(options);

    private Dictionary<string, string?> _settings = [];

    /// <summary>Where scheduled exports are written (removed with the host).</summary>
    public string ExportRoot { get; } = Path.Combine(Path.GetTempPath(), $"herald-exports-{Guid.NewGuid():N}");

    public virtual async ValueTask InitializeAsync()
    {
        _settings = await SettingsAsync();
        _settings["Herald:Demo:CreateOnFirstStart"] = "false";
        _settings["Herald:Exports:Root"] = ExportRoot;
        // Small chunks and little concurrency, so a send of a few dozen messages takes several rounds.
        _settings["Herald:Dispatch:ChunkSize"] = "10";
        _settings["Herald:Dispatch:BulkConcurrency"] = "4";
        _settings["Herald:Dispatch:Poll"] = "00:00:00.100";
        _settings["Herald:Fallback:Poll"] = "00:00:00.100";
        // The uninstall sweep pings every device not seen for 30 days; tests that move the clock run it themselves.
        _settings["Herald:Uninstalls:SweepEnabled"] = "false";
        // Likewise daily exports and model training: a test that moves the clock runs the pass itself.
        _settings["Herald:Exports:WorkerEnabled"] = "false";
        _settings["Herald:Predictions:WorkerEnabled"] = "false";
        // Every test signs in from the same in-process address; the per-address limit has its own test on its own node.
        _settings["Herald:Accounts:LoginAttemptsPerMinute"] = "100000";
        Providers = await LoopbackProviders.StartAsync(Clock);
        foreach (var (k, v) in Providers.HeraldSettings()) _settings[k] = v;
        _factory = NewNode();
        _ = _factory.Server; // boot now: migrations run here
        AdminKey = await Services.GetRequiredService<AdminKeys>().CreateAsync(CancellationToken.None);
    }

    /// <summary>Another Herald node on the same database (PostgreSQL: several nodes share one database).</summary>
    /// <param name="settings">Settings that differ on this node (e.g. a short provider timeout).</param>
    public WebApplicationFactory<Program> NewNode(IReadOnlyDictionary<string, string?>? settings = null) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (k, v) in _settings) b.UseSetting(k, v);
            foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) b.UseSetting(k, v);
            b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(Clock));
        });

    public async Task<TestApp> NewAppAsync(string? name = null)
    {
        var http = Client();
        using var req = new HttpRequestMessage(HttpMethod.Post, "/admin/v1/apps")
        {
            Content = JsonContent.Create(new { name = name ?? $"test-{Guid.NewGuid():N}", category = "ecommerce", timezone = "Europe/Istanbul" }),
        };
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var res = await http.SendAsync(req);
        res.EnsureSuccessStatusCode();
        var body = await res.Content.ReadFromJsonAsync<JsonElement>();
        return new TestApp(body.GetProperty("app").GetProperty("id").GetInt64(),
            body.GetProperty("sdkKey").GetProperty("key").GetString()!,
            body.GetProperty("restKey").GetProperty("key").GetString()!, Client);
    }

    public virtual async ValueTask DisposeAsync()
    {
        if (_factory is not null) await _factory.DisposeAsync();
        if (Providers is not null) await Providers.DisposeAsync();
        try { if (Directory.Exists(ExportRoot)) Directory.Delete(ExportRoot, true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }
}

public sealed class SqliteHost : HeraldHost
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"herald-test-{Guid.NewGuid():N}");
    public override string Engine => "sqlite";

    protected override Task<Dictionary<string, string?>> SettingsAsync() => Task.FromResult(new Dictionary<string, string?>
    {
        ["Herald:Storage:Provider"] = "Sqlite",
        ["Herald:Storage:DataDirectory"] = _dir,
    });

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}

public sealed class PostgresHost : HeraldHost
{
    private PostgresCluster? _cluster;
    public override string Engine => "postgres";
    public PostgresCluster Cluster => _cluster!;

    protected override async Task<Dictionary<string, string?>> SettingsAsync()
    {
        _cluster = await PostgresCluster.StartAsync(durable: false);
        var cs = await _cluster.CreateDatabaseAsync($"herald_{Guid.NewGuid():N}");
        return new Dictionary<string, string?>
        {
            ["Herald:Storage:Provider"] = "Postgres",
            ["Herald:Storage:ConnectionString"] = cs,
        };
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Npgsql.NpgsqlConnection.ClearAllPools();
        if (_cluster is not null) await _cluster.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class SqliteCollection : ICollectionFixture<SqliteHost>
{
    public const string Name = "sqlite";
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresHost>
{
    public const string Name = "postgres";
}
