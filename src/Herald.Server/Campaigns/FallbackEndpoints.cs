using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Campaigns;

public static class FallbackEndpoints
{
    public static IServiceCollection AddFallbacks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<Fallbacks>();
        services.AddSingleton<IDeliveryObserver>(sp => sp.GetRequiredService<Fallbacks>());
        services.AddSingleton<Ingest.IIngestObserver, PushReceipts>();
        services.AddOptions<FallbackOptions>().Bind(configuration.GetSection(FallbackOptions.Section)).ValidateDataAnnotations()
            .Validate(o => o.Poll > TimeSpan.Zero && o.Lease > TimeSpan.Zero && o.ConfigErrorPause > TimeSpan.Zero,
                $"{FallbackOptions.Section}:Poll, Lease and ConfigErrorPause must be positive durations.")
            .ValidateOnStart();
        services.AddSingleton<FallbackWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<FallbackWorker>());
        return services;
    }

    public static RouteGroupBuilder MapFallbacks(this RouteGroupBuilder campaigns)
    {
        campaigns.MapGet("/{id:long}/fallbacks", async Task<Ok<IReadOnlyList<FallbackView>>> (long id, RestAuth auth, CampaignService service, Fallbacks fallbacks,
            CancellationToken ct, string? state = null, int limit = 100) =>
        {
            if (limit is < 1 or > 1000) throw ProblemException.BadRequest($"limit must be 1-1000; got {limit}.", "limit", 1000);
            if (state is not null && state is not (FallbackStates.Pending or FallbackStates.Sending or FallbackStates.Sent or FallbackStates.Failed or FallbackStates.Skipped))
                throw ProblemException.BadRequest($"state must be pending, sending, sent, failed or skipped; got '{state}'.", "state");
            _ = await service.GetAsync(auth.AppId, id, ct, withHistory: false) ?? throw ProblemException.NotFound($"Campaign {id}");
            return TypedResults.Ok(await fallbacks.ListAsync(auth.AppId, id, state, limit, ct));
        }).WithSummary("The campaign's fallback messages (R-MSG-8), one per user at most: cause, channel, state and reason.");
        return campaigns;
    }
}
