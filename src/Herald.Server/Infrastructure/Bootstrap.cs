using Dapper;
using Herald.Server.Apps;
using Herald.Server.Storage;

namespace Herald.Server.Infrastructure;

/// <summary>Bound from <c>Herald:Demo</c>.</summary>
public sealed class DemoOptions
{
    /// <summary>On a database with no apps yet, create a demo app and print its keys (the README's first command).</summary>
    public bool CreateOnFirstStart { get; set; } = true;
}

/// <summary>
/// Start-up work that must finish before the node serves: migrations, then — on an empty
/// installation — an admin key and a demo app whose keys are printed once.
/// </summary>
public sealed class Bootstrap(Migrator migrator, Db db, AppService apps, AdminKeys adminKeys,
    Catalog.CatalogService catalog, Geofences.GeofenceService geofences,
    Microsoft.Extensions.Options.IOptions<DemoOptions> demo) : IHostedService
{
    public async Task StartAsync(CancellationToken ct)
    {
        await migrator.MigrateAsync(ct);
        await apps.EncryptStoredSecretsAsync(ct);
        if (!demo.Value.CreateOnFirstStart) return;
        await using var conn = await db.OpenAsync(ct);
        if (await conn.ExecuteScalarAsync<long>("SELECT count(*) FROM apps") > 0) return;
        var admin = await adminKeys.CreateAsync(ct);
        var created = await apps.CreateAsync(new CreateAppRequest("Demo app", "ecommerce", "UTC"), ct);
        await SeedAsync(created.App.Id, ct);
        Console.WriteLine($"""

            ================= Herald is ready =================
             Demo app id : {created.App.Id}
             SDK key     : {created.SdkKey.Key}
             REST key    : {created.RestKey.Key}
             Admin key   : {admin}
             These are shown only now; Herald stores their hashes.
            ====================================================

            """);
    }

    /// <summary>A little to look at in the demo app: a catalog to name in messages and two stores to fence.</summary>
    private async Task SeedAsync(long appId, CancellationToken ct)
    {
        await catalog.UpsertAsync(appId, new Catalog.CatalogUpsert(
        [
            new Catalog.CatalogItem { Id = "T-42", Name = "Trail runner", Price = 1499.9, Currency = "TRY", Category = "shoes", InStock = true, Url = "https://shop.example/p/t42" },
            new Catalog.CatalogItem { Id = "S-1", Name = "Wool socks", Price = 120, Currency = "TRY", Category = "socks", InStock = true, Url = "https://shop.example/p/s1" },
            new Catalog.CatalogItem { Id = "J-7", Name = "Rain jacket", Price = 2899, Currency = "TRY", Category = "jackets", InStock = false, Url = "https://shop.example/p/j7" },
        ]), ct);
        var stores = await geofences.CreateGroupAsync(appId, new Geofences.GeofenceGroupRequest("Stores"), ct);
        await geofences.CreateAsync(appId, new Geofences.GeofenceRequest { Name = "Kadıköy store", GroupId = stores.Id, Circle = new(40.9903, 29.0230, 150) }, ct);
        await geofences.CreateAsync(appId, new Geofences.GeofenceRequest { Name = "Beşiktaş store", GroupId = stores.Id, Circle = new(41.0429, 29.0075, 150) }, ct);
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
