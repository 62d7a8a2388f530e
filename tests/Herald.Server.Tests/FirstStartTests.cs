using Herald.Server.Apps;
using Herald.Server.Catalog;
using Herald.Server.Geofences;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Herald.Tests;

/// <summary>The README's first command on an empty folder: migrations, then a demo app with something to look at.</summary>
public sealed class FirstStartTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"herald-first-{Guid.NewGuid():N}");
    private WebApplicationFactory<Program>? _factory;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task An_empty_installation_gets_an_encrypted_key_file_and_a_demo_shop_with_a_catalog_and_two_stores()
    {
        var ct = TestContext.Current.CancellationToken;
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Herald:Storage:Provider", "Sqlite");
            b.UseSetting("Herald:Storage:DataDirectory", _dir);
            b.UseSetting("Herald:Demo:CreateOnFirstStart", "true");
        });
        _ = _factory.Server;
        var app = (await _factory.Services.GetRequiredService<AppService>().ListAsync(ct)).Single();
        app.Name.ShouldBe("Demo app");
        app.Category.ShouldBe("ecommerce");
        var items = await _factory.Services.GetRequiredService<CatalogService>().ListAsync(app.Id, null, 100, ct);
        items.Items.Select(i => i.Id).ShouldBe(["J-7", "S-1", "T-42"]);
        var fences = await _factory.Services.GetRequiredService<GeofenceService>().ListAsync(app.Id, null, ct);
        fences.Select(f => f.Name).Order().ShouldBe(["Beşiktaş store", "Kadıköy store"]);
        File.Exists(Path.Combine(_dir, "master.key")).ShouldBeTrue();
        File.Exists(Path.Combine(_dir, "herald.db")).ShouldBeTrue();
    }

    public async ValueTask DisposeAsync()
    {
        if (_factory is not null) await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
