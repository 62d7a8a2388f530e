using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Herald.Server.Delivery;

public static class DeliveryEndpoints
{
    public static IHostApplicationBuilder AddDelivery(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>().Bind(builder.Configuration.GetSection(GatewayOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        builder.Services.AddSingleton<GatewayRegistry>();
        builder.Services.AddSingleton<DeliveryFeedback>();
        builder.Services.AddSingleton<TestSends>();
        builder.Services.AddOptions<UninstallOptions>().Bind(builder.Configuration.GetSection(UninstallOptions.Section)).ValidateDataAnnotations()
            .Validate(o => o.SweepInterval > TimeSpan.Zero, $"{UninstallOptions.Section}:SweepInterval must be a positive duration.").ValidateOnStart();
        builder.Services.AddSingleton<UninstallSweep>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<UninstallSweep>());
        builder.Services.AddSingleton<UninstallReport>();
        builder.Services.AddSingleton(sp => new SesWebhook(
            sp.GetRequiredService<Storage.Db>(), sp.GetRequiredService<DeliveryFeedback>(),
            new HttpClient { Timeout = TimeSpan.FromSeconds(15) }, sp.GetRequiredService<ILogger<SesWebhook>>()));
        return builder;
    }

    public static IEndpointRouteBuilder MapDelivery(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Delivery");
        api.MapPost("/devices/{installationId}/test-push", async Task<Ok<TestSendResult>> (string installationId, TestPushRequest request, RestAuth auth, TestSends sends, CancellationToken ct) =>
            TypedResults.Ok(await sends.PushAsync(auth.AppId, installationId, request, ct)))
            .WithSummary("Send a test push to one device through the app's gateway for its platform; answers the provider's classified outcome.");
        api.MapPost("/users/{externalId}/test-email", async Task<Ok<TestSendResult>> (string externalId, TestEmailRequest request, RestAuth auth, TestSends sends, CancellationToken ct) =>
            TypedResults.Ok(await sends.EmailAsync(auth.AppId, externalId, request, ct)))
            .WithSummary("Send a test email to a user (respects opt-out and suppression).");
        api.MapPost("/users/{externalId}/test-sms", async Task<Ok<TestSendResult>> (string externalId, TestSmsRequest request, RestAuth auth, TestSends sends, CancellationToken ct) =>
            TypedResults.Ok(await sends.SmsAsync(auth.AppId, externalId, request, ct)))
            .WithSummary("Send a test SMS to a user (respects opt-out).");
        api.MapGet("/app/channel-errors", async Task<Ok<IReadOnlyList<ChannelErrorView>>> (RestAuth auth, DeliveryFeedback feedback, CancellationToken ct, int limit = 100) =>
            TypedResults.Ok(await feedback.ChannelErrorsAsync(auth.AppId, limit is < 1 or > 1000
                ? throw ProblemException.BadRequest($"limit must be 1-1000; got {limit}.", "limit", 1000) : limit, ct)))
            .WithSummary("Provider configuration errors (rejected credentials, wrong topic …), newest first.");
        api.MapGet("/app/ses-webhook", async Task<Ok<SesWebhookStatus>> (RestAuth auth, SesWebhook ses, CancellationToken ct) =>
            TypedResults.Ok(await ses.StatusAsync(auth.AppId, ct)))
            .WithSummary("Whether an SES notification webhook token is set (the token itself is shown only when made).");
        api.MapPost("/app/ses-webhook", async Task<Ok<SesWebhookCreated>> (RestAuth auth, HttpRequest request, SesWebhook ses, CancellationToken ct) =>
            TypedResults.Ok(await ses.CreateTokenAsync(auth.AppId, request, ct)))
            .WithSummary("Make (or replace) the app's SES bounce/complaint webhook URL with a secret token. Shown once.");

        api.MapPost("/app/uninstall-sweep", async Task<Ok<SweepResult>> (RestAuth auth, UninstallSweep sweep, CancellationToken ct) =>
            TypedResults.Ok(await sweep.SweepAsync(auth.AppId, ct)))
            .WithSummary("Run the silent-push uninstall check now for the app's devices not seen for Herald:Uninstalls:NotSeenForDays (the scheduled sweep does this daily).");
        app.MapGet("/api/v1/analytics/uninstalls", async Task<Ok<UninstallSeries>> (RestAuth auth, UninstallReport report, CancellationToken ct, string? from = null, string? to = null) =>
            TypedResults.Ok(await report.SeriesAsync(auth.AppId, from, to, ct)))
            .WithTags("Analytics").WithSummary("Uninstalls and re-installs per day in the app's timezone (default: the last 30 days), and Android tokens stale now.");

        app.MapPost("/webhooks/ses/{appId:long}", async Task<Ok<SesWebhookResult>> (long appId, string? token, HttpRequest request, SesWebhook ses, CancellationToken ct) =>
            TypedResults.Ok(await ses.ReceiveAsync(appId, token, request, ct)))
            .WithTags("Webhooks").WithSummary("Amazon SES bounce/complaint notifications (SNS HTTPS subscription or direct). Permanent bounces and complaints suppress the address.");
        return app;
    }
}
