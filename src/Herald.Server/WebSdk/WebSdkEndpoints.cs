using Herald.Server.Apps;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.WebSdk;

/// <summary>
/// The browser SDK (R-WEB-1): the two scripts, the configuration they read, and CORS for the SDK API
/// so a customer's site on another origin can call it (keys travel in headers, never cookies).
/// </summary>
public static class WebSdkEndpoints
{
    private static readonly Lazy<byte[]> Script = new(() => Resource("herald.js"));
    private static readonly Lazy<byte[]> Worker = new(() => Resource("herald-sw.js"));

    public static IHostApplicationBuilder AddWebSdk(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<WebSdkSettings>();
        return builder;
    }

    public static WebApplication MapWebSdk(this WebApplication app)
    {
        app.Use(SdkCors);

        var web = app.MapGroup("/sdk/web").WithTags("Web SDK");
        web.MapGet("/herald.js", (HttpContext http) => Serve(http, Script.Value, worker: false))
            .WithSummary("The web SDK: add it with a script tag and call herald.init({ appKey }).");
        web.MapGet("/herald-sw.js", (HttpContext http) => Serve(http, Worker.Value, worker: true))
            .WithSummary("The web push service worker. Sent with Service-Worker-Allowed: / so it may control the whole site.");

        app.MapGet("/sdk/v1/config", async Task<Ok<SdkConfig>> (SdkAuth auth, WebSdkSettings settings, CancellationToken ct) =>
            TypedResults.Ok(await settings.ConfigAsync(auth.AppId, ct)))
            .WithTags("SDK").WithSummary("What the web SDK reads at start: the app's VAPID public key and the opt-in prompt.");

        var api = app.MapGroup("/api/v1/app/web-sdk").WithTags("Web SDK");
        api.MapGet("/", async Task<Ok<WebSdkSettingsView>> (RestAuth auth, WebSdkSettings settings, CancellationToken ct) =>
            TypedResults.Ok(await settings.GetAsync(auth.AppId, ct))).WithSummary("The web SDK settings (opt-in prompt).");
        api.MapPut("/", async Task<Ok<WebSdkSettingsView>> (WebSdkSettingsRequest body, RestAuth auth, WebSdkSettings settings, CancellationToken ct) =>
            TypedResults.Ok(await settings.PutAsync(auth.AppId, body, ct))).WithSummary("Set the web SDK settings (opt-in prompt text, delay, later-days).");
        return app;
    }

    private static IResult Serve(HttpContext http, byte[] body, bool worker)
    {
        // Short caching: a fixed SDK reaches visitors within minutes (browsers re-check workers daily anyway).
        http.Response.Headers.CacheControl = "public, max-age=300";
        http.Response.Headers["X-Content-Type-Options"] = "nosniff";
        if (worker) http.Response.Headers["Service-Worker-Allowed"] = "/";
        return Results.Bytes(body, "text/javascript; charset=utf-8");
    }

    private static async Task SdkCors(HttpContext http, RequestDelegate next)
    {
        if (!http.Request.Path.StartsWithSegments("/sdk", StringComparison.Ordinal))
        {
            await next(http);
            return;
        }
        var h = http.Response.Headers;
        h.AccessControlAllowOrigin = "*";
        if (HttpMethods.IsOptions(http.Request.Method))
        {
            h.AccessControlAllowMethods = "GET, POST";
            h.AccessControlAllowHeaders = "Authorization, Content-Type, X-Herald-Key";
            h.AccessControlMaxAge = "86400";
            http.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }
        await next(http);
    }

    private static byte[] Resource(string name)
    {
        using var stream = typeof(WebSdkEndpoints).Assembly.GetManifestResourceStream($"Herald.Server.WebSdk.{name}")
            ?? throw new InvalidOperationException($"Embedded resource WebSdk/{name} is missing from the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
