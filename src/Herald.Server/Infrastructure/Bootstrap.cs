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
        var created = await apps.CreateAsync(new CreateAppRequest("Demo app", "general", "UTC"), ct);
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

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
