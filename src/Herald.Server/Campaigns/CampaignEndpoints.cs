using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Campaigns;

public static class CampaignEndpoints
{
    public static IHostApplicationBuilder AddCampaigns(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<CampaignService>();
        return builder;
    }

    public static IEndpointRouteBuilder MapCampaigns(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/campaigns").WithTags("Campaigns");
        api.MapPost("/", async Task<Created<CampaignView>> (CampaignDefinition body, RestAuth auth, CampaignService campaigns, CancellationToken ct) =>
        {
            var c = await campaigns.CreateAsync(auth.AppId, body, CampaignService.Actor(auth.Caller), ct);
            return TypedResults.Created($"/api/v1/campaigns/{c.Id}", c);
        }).WithSummary("Create a campaign (draft). Templates are compiled now: an error answers 422 with field, line and column.");
        api.MapGet("/", async Task<Ok<IReadOnlyList<CampaignView>>> (RestAuth auth, CampaignService campaigns, CancellationToken ct, string? state = null, int limit = 100) =>
        {
            if (limit is < 1 or > 1000) throw ProblemException.BadRequest($"limit must be 1-1000; got {limit}.", "limit", 1000);
            return TypedResults.Ok(await campaigns.ListAsync(auth.AppId, state, limit, ct));
        }).WithSummary("List campaigns, newest first.");
        api.MapGet("/{id:long}", async Task<Ok<CampaignView>> (long id, RestAuth auth, CampaignService campaigns, CancellationToken ct) =>
            TypedResults.Ok(await campaigns.GetAsync(auth.AppId, id, ct) ?? throw ProblemException.NotFound($"Campaign {id}")))
            .WithSummary("One campaign with its state history (who, when, why).");
        api.MapPut("/{id:long}", async Task<Ok<CampaignView>> (long id, CampaignDefinition body, RestAuth auth, CampaignService campaigns, CancellationToken ct) =>
            TypedResults.Ok(await campaigns.UpdateAsync(auth.AppId, id, body, CampaignService.Actor(auth.Caller), ct)))
            .WithSummary("Replace a draft or scheduled campaign's definition.");
        api.MapPost("/{id:long}/preview", async Task<Ok<PreviewView>> (long id, PreviewRequest body, RestAuth auth, CampaignService campaigns, CancellationToken ct) =>
            TypedResults.Ok(await campaigns.PreviewAsync(auth.AppId, id, body, ct)))
            .WithSummary("Render the message for one user or device, as it would be sent (or why they would be skipped).");
        return app;
    }
}
