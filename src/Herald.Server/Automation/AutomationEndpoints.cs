using Herald.Server.Apps;
using Herald.Server.Campaigns;
using Herald.Server.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Automation;

public static class AutomationEndpoints
{
    public static IHostApplicationBuilder AddAutomation(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AutomationOptions>().Bind(builder.Configuration.GetSection(AutomationOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<AutomationService>();
        builder.Services.AddSingleton<AutomationWake>();
        builder.Services.AddSingleton<Ingest.IIngestObserver, TriggerObserver>();
        builder.Services.AddSingleton<AutomationWorker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AutomationWorker>());
        return builder;
    }

    public static IEndpointRouteBuilder MapAutomation(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/campaigns").WithTags("Campaigns");
        api.MapPost("/{id:long}/activate", async Task<Ok<CampaignView>> (long id, RestAuth auth, AutomationService automation, AutomationWorker worker, CancellationToken ct) =>
        {
            var c = await automation.ActivateAsync(auth.AppId, id, CampaignService.Actor(auth.Caller), ct);
            worker.Wake();
            return TypedResults.Ok(c);
        }).WithSummary("Start a triggered or recurring campaign (draft → active). Each firing or recurrence becomes a run campaign; POST /stop ends it.");
        api.MapGet("/{id:long}/automation", async Task<Ok<AutomationView>> (long id, RestAuth auth, AutomationService automation, CancellationToken ct, int limit = 100) =>
        {
            if (limit is < 1 or > 1000) throw ProblemException.BadRequest($"limit must be 1-1000; got {limit}.", "limit", 1000);
            return TypedResults.Ok(await automation.ViewAsync(auth.AppId, id, limit, ct));
        }).WithSummary("An automated campaign's triggers by state (pending, fired, cancelled, skipped), messages sent, and its runs (each a campaign with its own report).");
        return app;
    }
}
