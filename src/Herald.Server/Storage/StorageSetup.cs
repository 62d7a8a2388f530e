using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Herald.Server.Storage;

public static class StorageSetup
{
    public static IHostApplicationBuilder AddStorage(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<StorageOptions>().Bind(builder.Configuration.GetSection(StorageOptions.Section))
            .ValidateDataAnnotations()
            .Validate(o => o.Provider != StorageProvider.Postgres || !string.IsNullOrWhiteSpace(o.ConnectionString),
                $"{StorageOptions.Section}:ConnectionString is required when {StorageOptions.Section}:Provider is Postgres.")
            .ValidateOnStart();
        builder.Services.AddSingleton<Db>();
        builder.Services.AddSingleton<Migrator>();
        builder.Services.AddHealthChecks().AddCheck<DatabaseReady>("database", tags: ["ready"]);
        return builder;
    }

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        // Liveness: the process answers. Readiness: the database answers and its schema is current.
        app.MapHealthChecks("/health", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        return app;
    }

    private sealed class DatabaseReady(Db db) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
        {
            try
            {
                await using var conn = await db.OpenAsync(ct);
                return await Migrator.IsCurrentAsync(conn, db.Provider)
                    ? HealthCheckResult.Healthy($"{db.Provider} reachable, schema current")
                    : HealthCheckResult.Unhealthy("schema not migrated yet");
            }
            catch (Exception e)
            {
                return HealthCheckResult.Unhealthy($"{db.Provider} unreachable: {e.Message}");
            }
        }
    }
}
