using Herald.Server.Accounts;
using Herald.Server.Analytics;
using Herald.Server.Apps;
using Herald.Server.Storage;

namespace Herald.Server.Infrastructure;

/// <summary>
/// Operator commands on the same executable: <c>herald apps create --name N [--category C] [--timezone TZ]</c>,
/// <c>herald admin-key create</c>, <c>herald migrate</c>,
/// <c>herald analytics rebuild [--app N]</c>, <c>herald owner create --email E</c>. They use the configured database.
/// </summary>
public static class Cli
{
    public static bool IsCommand(string[] args) => args.Length > 0 && args[0] is "apps" or "admin-key" or "migrate" or "analytics" or "owner";

    public static async Task<int> RunAsync(WebApplication app, string[] args)
    {
        var services = app.Services;
        await services.GetRequiredService<Migrator>().MigrateAsync();
        switch (args)
        {
            case ["migrate", ..]:
                Console.WriteLine("Database is up to date.");
                return 0;
            case ["admin-key", "create", ..]:
                Console.WriteLine(await services.GetRequiredService<AdminKeys>().CreateAsync(CancellationToken.None));
                return 0;
            case ["apps", "create", .. var rest]:
                var name = Option(rest, "--name") ?? throw new ArgumentException("apps create needs --name");
                var created = await services.GetRequiredService<AppService>().CreateAsync(
                    new CreateAppRequest(name, Option(rest, "--category"), Option(rest, "--timezone")), CancellationToken.None);
                Console.WriteLine($"app id   : {created.App.Id}\nSDK key  : {created.SdkKey.Key}\nREST key : {created.RestKey.Key}");
                return 0;
            case ["owner", "create", .. var rest]:
                var email = Option(rest, "--email") ?? throw new ArgumentException("owner create needs --email");
                var (owner, password) = await services.GetRequiredService<AccountService>().CreateOwnerAsync(email, CancellationToken.None);
                Console.WriteLine($"owner    : {owner.Email}\none-time password: {password}\nSign in at /panel/login; you will choose your own password first.");
                return 0;
            case ["apps", "list", ..]:
                foreach (var a in await services.GetRequiredService<AppService>().ListAsync(CancellationToken.None))
                    Console.WriteLine($"{a.Id}\t{a.Name}\t{a.Category}\t{a.Timezone}");
                return 0;
            case ["analytics", "rebuild", .. var rest]:
                var only = Option(rest, "--app");
                var ids = only is not null ? [long.Parse(only, System.Globalization.CultureInfo.InvariantCulture)]
                    : (await services.GetRequiredService<AppService>().ListAsync(CancellationToken.None)).Select(a => a.Id).ToArray();
                foreach (var id in ids)
                {
                    var read = await services.GetRequiredService<RollupStore>().RebuildAsync(id, force: true, CancellationToken.None);
                    Console.WriteLine($"app {id}: rollups rebuilt from {read} events");
                }
                return 0;
            default:
                Console.Error.WriteLine("usage: herald [apps create --name N [--category general|ecommerce|media] [--timezone TZ] | apps list | admin-key create | migrate | analytics rebuild [--app N] | owner create --email E]");
                return 2;
        }
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
