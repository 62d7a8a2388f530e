using Herald.Server.Apps;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Predictions;

public static class PredictionEndpoints
{
    public static IHostApplicationBuilder AddPredictions(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<PredictionOptions>().Bind(builder.Configuration.GetSection(PredictionOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<PredictionService>();
        builder.Services.AddHostedService<PredictionWorker>();
        return builder;
    }

    public static IEndpointRouteBuilder MapPredictions(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/predictions").WithTags("Predictions");
        api.MapGet("/", async Task<Ok<IReadOnlyList<PredictionView>>> (RestAuth auth, PredictionService predictions, CancellationToken ct) =>
            TypedResults.Ok(await predictions.ListAsync(auth.AppId, ct))).WithSummary("The churn, purchase and opt-out models: status, when trained, held-out AUC, base rate, feature weights.");
        api.MapGet("/{model}", async Task<Ok<PredictionView>> (string model, RestAuth auth, PredictionService predictions, CancellationToken ct) =>
            TypedResults.Ok(await predictions.GetAsync(auth.AppId, model, ct))).WithSummary("One model.");
        api.MapPost("/{model}/train", async Task<Ok<PredictionView>> (string model, RestAuth auth, PredictionService predictions, CancellationToken ct) =>
            TypedResults.Ok(await predictions.TrainNowAsync(auth.AppId, model, ct)))
            .WithSummary("Train the model now on the app's history and score every device; from then on it is trained again every day. 422 (with the counts) when the history is too thin.");
        api.MapGet("/{model}/scores/{installationId}", async Task<Ok<PredictionScore>> (string model, string installationId, RestAuth auth, PredictionService predictions, CancellationToken ct) =>
            TypedResults.Ok(await predictions.ScoreOfAsync(auth.AppId, model, installationId, ct))).WithSummary("A device's score (0–1) and its percentile among the app's devices.");
        return app;
    }
}
