using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Herald.Server.Campaigns;

public static class CampaignEndpoints
{
    public static IHostApplicationBuilder AddCampaigns(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<CampaignService>();
        builder.Services.AddSingleton<CampaignPlanner>();
        builder.Services.AddSingleton<CampaignApproval>();
        builder.Services.AddSingleton<CampaignReports>();
        builder.Services.AddSingleton<CampaignStops>();
        builder.Services.AddSingleton<CampaignRecall>();
        builder.Services.AddSingleton<RecipientMessages>();
        builder.Services.AddSingleton<TransactionalMessages>();
        builder.Services.AddSingleton<Ingest.IIngestObserver, CampaignAttribution>();
        builder.Services.AddOptions<DispatchOptions>().Bind(builder.Configuration.GetSection(DispatchOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<DispatchWorker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DispatchWorker>());
        builder.Services.AddHostedService<AbTestDecider>();
        builder.Services.AddFallbacks(builder.Configuration);
        return builder;
    }

    public static IEndpointRouteBuilder MapCampaigns(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/campaigns").WithTags("Campaigns");
        api.MapFallbacks();
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
        api.MapPost("/{id:long}/audience", async Task<Ok<AudienceSize>> (long id, RestAuth auth, CampaignService campaigns, CampaignPlanner planner, CancellationToken ct) =>
        {
            var c = await campaigns.GetAsync(auth.AppId, id, ct) ?? throw ProblemException.NotFound($"Campaign {id}");
            return TypedResults.Ok(new AudienceSize(await planner.AudienceSizeAsync(auth.AppId, c.Definition, ct)));
        }).WithSummary("How many reachable recipients the campaign's audience has right now.");
        api.MapPost("/{id:long}/send", async Task<Ok<PlanSummary>> (long id, RestAuth auth, CampaignPlanner planner, DispatchWorker dispatch, CancellationToken ct) =>
        {
            var plan = await planner.PlanAsync(auth.AppId, id, CampaignService.Actor(auth.Caller), ct);
            dispatch.Wake();
            return TypedResults.Ok(plan);
        }).WithSummary("Send (or schedule) the campaign: writes one ledger row per recipient; the dispatcher sends them when due.");
        api.MapPost("/{id:long}/stop", async Task<Ok<CampaignReport>> (long id, StopRequest? body, RestAuth auth, CampaignReports reports, IOptions<DispatchOptions> o, CancellationToken ct) =>
            TypedResults.Ok(await reports.StopAsync(auth.AppId, id, CampaignService.Actor(auth.Caller), body?.Reason, o.Value.Lease, ct)))
            .WithSummary("Stop a running or scheduled send. When this returns, no further message goes out; the report shows what was sent.");
        api.MapGet("/{id:long}/report", async Task<Ok<CampaignReport>> (long id, RestAuth auth, CampaignReports reports, CancellationToken ct) =>
            TypedResults.Ok(await reports.ReportAsync(auth.AppId, id, ct)))
            .WithSummary("Live report from the delivery ledger: targeted, queued, sent, failed by reason, skipped by reason, per platform.");
        api.MapPost("/{id:long}/recall", async Task<Ok<RecallResult>> (long id, StopRequest? body, RestAuth auth, CampaignRecall recall, CancellationToken ct) =>
            TypedResults.Ok(await recall.RecallAsync(auth.AppId, id, CampaignService.Actor(auth.Caller), body?.Reason, ct)))
            .WithSummary("Withdraw a delivered mobile push: a silent command push to every device it reached. Web push, email and SMS answer 409 with the reason.");

        var people = app.MapGroup("/api/v1").WithTags("Users and devices");
        people.MapGet("/users/{externalId}/messages", async Task<Ok<IReadOnlyList<ReceivedMessage>>> (string externalId, RestAuth auth, RecipientMessages messages, CancellationToken ct, int limit = 50) =>
            TypedResults.Ok(await messages.ForUserAsync(auth.AppId, externalId, MessagesLimit(limit), ct)))
            .WithSummary("Messages a user was sent (every channel, newest first) and what happened to each: opened, converted, recalled.");
        people.MapGet("/devices/{installationId}/messages", async Task<Ok<IReadOnlyList<ReceivedMessage>>> (string installationId, RestAuth auth, RecipientMessages messages, CancellationToken ct, int limit = 50) =>
            TypedResults.Ok(await messages.ForDeviceAsync(auth.AppId, installationId, MessagesLimit(limit), ct)))
            .WithSummary("Messages a device was sent (newest first).");

        app.MapPost("/api/v1/messages", async Task<Ok<PlanSummary>> (TransactionalRequest body, RestAuth auth, HttpContext http, TransactionalMessages messages, CancellationToken ct) =>
        {
            var key = http.Request.Headers["Idempotency-Key"].ToString();
            return TypedResults.Ok(await messages.SendAsync(auth.AppId, body, key.Length == 0 ? null : key, CampaignService.Actor(auth.Caller), ct));
        }).WithTags("Transactional").WithSummary("Send now to named users or devices (urgent lane). The same Idempotency-Key twice sends once and answers the first result.");
        return app;
    }

    private static int MessagesLimit(int limit) =>
        limit is >= 1 and <= 500 ? limit : throw ProblemException.BadRequest($"limit must be 1-500; got {limit}.", "limit", 500);
}

public sealed record AudienceSize(int Recipients);

public sealed record StopRequest(string? Reason);
