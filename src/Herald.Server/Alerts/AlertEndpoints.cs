using Herald.Server.Apps;
using Herald.Server.Campaigns;
using Herald.Server.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Alerts;

public static class AlertEndpoints
{
    public static IHostApplicationBuilder AddAlerts(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AlertOptions>().Bind(builder.Configuration.GetSection(AlertOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<AlertService>();
        builder.Services.AddSingleton<AlertMonitor>();
        builder.Services.AddSingleton<IDeliveryObserver>(sp => sp.GetRequiredService<AlertMonitor>());
        builder.Services.AddSingleton<AlertNotifier>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AlertNotifier>());
        return builder;
    }

    public static IEndpointRouteBuilder MapAlerts(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Alerts");
        api.MapGet("/alerts", async Task<Ok<IReadOnlyList<AlertView>>> (RestAuth auth, AlertService alerts, CancellationToken ct, string state = "all", int limit = 100) =>
        {
            if (limit is < 1 or > 1000) throw ProblemException.BadRequest($"limit must be 1-1000; got {limit}.", "limit", 1000);
            bool? open = state switch
            {
                "open" => true,
                "resolved" => false,
                "all" => null,
                _ => throw ProblemException.BadRequest($"state must be open, resolved or all; got '{state}'.", "state"),
            };
            return TypedResults.Ok(await alerts.ListAsync(auth.AppId, open, limit, ct));
        }).WithSummary("The app's alert incidents (campaign failure rate, provider error rate, credential errors), newest first.");
        api.MapGet("/alerts/{id:long}", async Task<Ok<AlertView>> (long id, RestAuth auth, AlertService alerts, CancellationToken ct) =>
            TypedResults.Ok(await alerts.GetAsync(auth.AppId, id, ct) ?? throw ProblemException.NotFound($"Alert {id}")))
            .WithSummary("One alert incident with its counts, reasons and where it was notified.");
        api.MapGet("/app/alert-settings", async Task<Ok<AlertSettingsView>> (RestAuth auth, AlertService alerts, CancellationToken ct) =>
            TypedResults.Ok(await alerts.SettingsAsync(auth.AppId, ct)))
            .WithSummary("Where the app's alerts go: a webhook URL and email addresses (operator-wide ones are added from Herald:Alerts).");
        api.MapPut("/app/alert-settings", async Task<Ok<AlertSettingsView>> (AlertSettingsInput body, RestAuth auth, AlertService alerts, CancellationToken ct) =>
            TypedResults.Ok(await alerts.SetSettingsAsync(auth.AppId, body, ct)))
            .WithSummary("Set the app's alert webhook URL (http/https) and up to 10 email addresses; empty clears.");
        return app;
    }
}
