using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Server.Apps;
using Herald.Sim.Providers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace Herald.E2E.Support;

/// <summary>
/// A real Herald on Kestrel (127.0.0.1, a free port, SQLite in a temp folder), its gateways pointed at
/// the loopback FCM, APNs, web push and SMS servers, and a headless Debian Chromium driven by
/// Playwright. One per test collection; each test makes its own app.
/// </summary>
public sealed class E2EHost : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"herald-e2e-{Guid.NewGuid():N}");
    private WebApplicationFactory<Program>? _factory;
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;
    public Uri BaseAddress { get; private set; } = null!;
    public IServiceProvider Services => _factory!.Services;
    public string AdminKey { get; private set; } = "";

    /// <summary>The host's warnings and errors, for failure messages.</summary>
    public HostLog Log { get; } = new();

    /// <summary>The host's clock: starts at the real time and moves only when a test says (idle timeouts, expiry).</summary>
    public Herald.Sim.Local.ManualClock Clock { get; } = new();

    /// <summary>Loopback providers that speak the real wire protocols; <see cref="ConnectPushAsync"/> gives an app their credentials.</summary>
    public LoopbackProviders Providers { get; private set; } = null!;

    /// <summary>Where screenshots go; CI keeps them as artifacts.</summary>
    public static string Artifacts { get; } = Path.Combine(AppContext.BaseDirectory, "artifacts");

    public async ValueTask InitializeAsync()
    {
        Providers = await LoopbackProviders.StartAsync(Clock);
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (k, v) in Providers.HeraldSettings()) b.UseSetting(k, v);
            // Small chunks and little concurrency, so a send of a few dozen messages takes several rounds (and can be stopped).
            b.UseSetting("Herald:Dispatch:ChunkSize", "5");
            b.UseSetting("Herald:Dispatch:BulkConcurrency", "2");
            b.UseSetting("Herald:Dispatch:Poll", "00:00:00.100");
            b.UseSetting("Herald:Storage:Provider", "Sqlite");
            b.UseSetting("Herald:Storage:DataDirectory", _dir);
            b.UseSetting("Herald:Demo:CreateOnFirstStart", "false");
            // All browser sign-ins come from 127.0.0.1; the per-address limit is tested in Herald.Server.Tests.
            b.UseSetting("Herald:Accounts:LoginAttemptsPerMinute", "100000");
            b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(Clock));
            b.ConfigureLogging(l => l.AddProvider(Log));
        });
        _factory.UseKestrel(0);
        _factory.StartServer();
        var address = _factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("localhost", "127.0.0.1", StringComparison.Ordinal));
        AdminKey = await Services.GetRequiredService<AdminKeys>().CreateAsync(CancellationToken.None);

        if (!File.Exists("/usr/bin/chromium"))
            throw new InvalidOperationException("Chromium not found at /usr/bin/chromium. Fix: apt-get install -y chromium");
        Directory.CreateDirectory(Artifacts);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-quic"],
        });
    }

    public HttpClient Client(string? key = null)
    {
        var c = new HttpClient { BaseAddress = BaseAddress };
        if (key is not null) c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return c;
    }

    /// <summary>A fresh app: (id, SDK key, REST key).</summary>
    public async Task<(long Id, string SdkKey, string RestKey)> NewAppAsync()
    {
        using var c = Client(AdminKey);
        using var res = await c.PostAsJsonAsync("/admin/v1/apps", new { name = $"e2e-{Guid.NewGuid():N}", category = "ecommerce", timezone = "Europe/Istanbul" });
        res.EnsureSuccessStatusCode();
        var body = await res.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("app").GetProperty("id").GetInt64(),
            body.GetProperty("sdkKey").GetProperty("key").GetString()!,
            body.GetProperty("restKey").GetProperty("key").GetString()!);
    }

    /// <summary>Stores the loopback FCM and APNs credentials for the app, as an admin would (REST API).</summary>
    public async Task ConnectPushAsync(string restKey)
    {
        using var c = Client(restKey);
        foreach (var (channel, body) in new[] { ("fcm", Providers.FcmCredentials), ("apns", Providers.ApnsCredentials) })
            (await c.PutAsJsonAsync($"/api/v1/app/credentials/{channel}", body)).EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        if (_factory is not null) await _factory.DisposeAsync();
        if (Providers is not null) await Providers.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class E2ECollection : ICollectionFixture<E2EHost>
{
    public const string Name = "e2e";
}
