using Herald.Server.Apps;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Widgets;

public static class WidgetEndpoints
{
    public static IHostApplicationBuilder AddWidgets(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<WidgetAssets>();
        builder.Services.AddSingleton<WidgetService>();
        return builder;
    }

    public static IEndpointRouteBuilder MapWidgets(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/widgets").WithTags("Widgets");
        api.MapPost("/", async Task<Created<WidgetView>> (WidgetRequest body, RestAuth auth, WidgetService widgets, CancellationToken ct) =>
        {
            var w = await widgets.CreateAsync(auth.AppId, body, ct);
            return TypedResults.Created($"/api/v1/widgets/{w.Id}", w);
        }).WithSummary("Create a widget: layout (title, text, image or video asset, buttons, colours, position) and display rules.");
        api.MapGet("/", async Task<Ok<IReadOnlyList<WidgetView>>> (RestAuth auth, WidgetService widgets, CancellationToken ct) =>
            TypedResults.Ok(await widgets.ListAsync(auth.AppId, ct))).WithSummary("List the app's widgets.");
        api.MapGet("/{id:long}", async Task<Ok<WidgetView>> (long id, RestAuth auth, WidgetService widgets, CancellationToken ct) =>
            TypedResults.Ok(await widgets.GetAsync(auth.AppId, id, ct))).WithSummary("One widget.");
        api.MapPut("/{id:long}", async Task<Ok<WidgetView>> (long id, WidgetRequest body, RestAuth auth, WidgetService widgets, CancellationToken ct) =>
            TypedResults.Ok(await widgets.UpdateAsync(auth.AppId, id, body, ct))).WithSummary("Replace a widget's definition.");
        api.MapDelete("/{id:long}", async Task<NoContent> (long id, RestAuth auth, WidgetService widgets, CancellationToken ct) =>
        {
            await widgets.DeleteAsync(auth.AppId, id, ct);
            return TypedResults.NoContent();
        }).WithSummary("Delete a widget.");
        api.MapPost("/assets", async Task<Created<WidgetAssetView>> (HttpRequest request, RestAuth auth, WidgetAssets assets, CancellationToken ct) =>
        {
            var a = await assets.UploadAsync(auth.AppId, request, ct);
            return TypedResults.Created(a.Url, a);
        }).WithSummary("Upload an image (PNG, JPEG, GIF, WebP; at most 1 MB) or video (MP4, WebM; at most 12 MB) as the raw body. The type is read from the file's bytes.");
        api.MapGet("/assets", async Task<Ok<IReadOnlyList<WidgetAssetView>>> (HttpRequest request, RestAuth auth, WidgetAssets assets, CancellationToken ct) =>
            TypedResults.Ok(await assets.ListAsync(auth.AppId, request, ct))).WithSummary("The app's uploaded assets.");
        api.MapDelete("/assets/{key}", async Task<NoContent> (string key, RestAuth auth, WidgetService widgets, CancellationToken ct) =>
        {
            await widgets.DeleteAssetAsync(auth.AppId, key, ct);
            return TypedResults.NoContent();
        }).WithSummary("Delete an uploaded asset; 409 naming the widgets that still show it, 404 for an unknown key or another app's.");

        var sdk = app.MapGroup("/sdk/v1").WithTags("SDK");
        sdk.MapGet("/widgets", async Task<Ok<SdkWidgets>> (HttpRequest request, SdkAuth auth, WidgetService widgets, CancellationToken ct, string? installationId = null) =>
            TypedResults.Ok(await widgets.ForVisitorAsync(auth.AppId, installationId, WidgetAssets.BaseUrl(request), ct)))
            .WithSummary("The widgets a visitor may see now (web and mobile SDKs alike); the SDK applies page pattern, trigger and frequency.");
        sdk.MapGet("/assets/{key}", async Task<Results<FileContentHttpResult, NotFound>> (string key, HttpResponse response, WidgetAssets assets, CancellationToken ct) =>
        {
            if (key.Length > 64 || await assets.FindAsync(key, ct) is not { } a) return TypedResults.NotFound();
            // Keys are never reused: the bytes behind one never change.
            response.Headers.CacheControl = "public, max-age=31536000, immutable";
            response.Headers["X-Content-Type-Options"] = "nosniff";
            return TypedResults.File(a.Data, a.ContentType, enableRangeProcessing: true);
        }).WithSummary("A widget asset (public: widgets show to anonymous visitors).");
        return app;
    }
}
