using System.Net.Http.Headers;
using Herald.Sim.Providers;
using Herald.Sim.Simulation;

namespace Herald.Tests.Support;

/// <summary>
/// Tests that run Herald as a separate process (to kill it with SIGKILL and start it again on the
/// same data): its settings for the loopback providers and the chosen engine, and API clients.
/// </summary>
internal static class ProcessTests
{
    /// <summary>Settings for the loopback providers plus <paramref name="extra"/>; on "postgres" a fresh database of <paramref name="cluster"/>.</summary>
    public static async Task<Dictionary<string, string?>> SettingsAsync(LoopbackProviders providers, PostgresCluster? cluster, string database,
        IReadOnlyDictionary<string, string?> extra)
    {
        var settings = new Dictionary<string, string?>(providers.HeraldSettings().ToDictionary(x => x.Key, x => x.Value));
        foreach (var (k, v) in extra) settings[k] = v;
        if (cluster is not null)
        {
            settings["Herald:Storage:Provider"] = "Postgres";
            settings["Herald:Storage:ConnectionString"] = await cluster.CreateDatabaseAsync($"{database}_{Guid.NewGuid():N}");
        }
        return settings;
    }

    public static HttpClient Client(Uri baseAddress, string key)
    {
        var c = new HttpClient { BaseAddress = baseAddress };
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return c;
    }
}
