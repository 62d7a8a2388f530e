using System.Text.Json;
using Herald.Server.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Apps;

public static class AppEndpoints
{
    public static IHostApplicationBuilder AddApps(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddSingleton<AdminKeys>();
        builder.Services.AddOptions<SecurityOptions>().Bind(builder.Configuration.GetSection(SecurityOptions.Section));
        builder.Services.AddSingleton<SecretBox>();
        builder.Services.AddSingleton<AppService>();
        return builder;
    }

    public static IEndpointRouteBuilder MapApps(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin/v1/apps").WithTags("Admin");
        admin.MapPost("/", async Task<Created<CreatedApp>> (CreateAppRequest request, AdminAuth _, AppService apps, CancellationToken ct) =>
        {
            var created = await apps.CreateAsync(request, ct);
            return TypedResults.Created($"/admin/v1/apps/{created.App.Id}", created);
        }).WithSummary("Create an app; answers its first SDK key and REST key (shown once).");
        admin.MapGet("/", async Task<Ok<IReadOnlyList<AppView>>> (AdminAuth _, AppService apps, CancellationToken ct) =>
            TypedResults.Ok(await apps.ListAsync(ct))).WithSummary("List apps.");

        var api = app.MapGroup("/api/v1/app").WithTags("App settings and keys");
        api.MapGet("/", async Task<Ok<AppView>> (RestAuth auth, AppService apps, CancellationToken ct) =>
            TypedResults.Ok(await apps.GetAsync(auth.AppId, ct) ?? throw ProblemException.NotFound("App")))
            .WithSummary("The calling key's app: settings, VAPID public key, masked channel credentials.");
        api.MapPatch("/", async Task<Ok<AppView>> (UpdateAppRequest request, RestAuth auth, AppService apps, CancellationToken ct) =>
            TypedResults.Ok(await apps.UpdateAsync(auth.AppId, request, ct)))
            .WithSummary("Change name, category (general, ecommerce, media), default timezone or limits.");
        api.MapPut("/credentials/{channel}", async Task<Ok<AppView>> (string channel, JsonElement body, RestAuth auth, AppService apps, CancellationToken ct) =>
            TypedResults.Ok(await apps.SetCredentialsAsync(auth.AppId, channel, body, ct)))
            .WithSummary("Store channel credentials (fcm, apns, smtp, sms, vapid). Write-only: reads show a fingerprint.");
        api.MapGet("/keys", async Task<Ok<IReadOnlyList<KeyView>>> (RestAuth auth, AppService apps, CancellationToken ct) =>
            TypedResults.Ok(await apps.ListKeysAsync(auth.AppId, ct))).WithSummary("List keys (prefixes only).");
        api.MapPost("/keys", async Task<Created<CreatedKey>> (CreateKeyRequest request, RestAuth auth, AppService apps, CancellationToken ct) =>
        {
            var key = await apps.CreateKeyAsync(auth.AppId, request, ct);
            return TypedResults.Created($"/api/v1/app/keys/{key.Id}", key);
        }).WithSummary("Create an SDK or REST key, optionally restricted to an IP allow-list. The secret is shown once.");
        api.MapDelete("/keys/{keyId:long}", async Task<NoContent> (long keyId, RestAuth auth, AppService apps, CancellationToken ct) =>
        {
            await apps.RevokeKeyAsync(auth.AppId, keyId, ct);
            return TypedResults.NoContent();
        }).WithSummary("Revoke a key.");
        return app;
    }
}
