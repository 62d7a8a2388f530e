using Herald.Server.Accounts;

namespace Herald.Server.Panel;

/// <summary>The marketer web UI: Razor Pages under /panel, one stylesheet, small script files, no build chain.</summary>
public static class PanelSetup
{
    // No inline script or style anywhere in the panel; charts are server-rendered SVG.
    private const string Csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

    public static IHostApplicationBuilder AddPanel(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorPages(o =>
        {
            o.RootDirectory = "/Panel/Pages";
            o.Conventions.AuthorizeFolder("/", AccountSetup.FullSession);
            foreach (var open in new[] { "/Login", "/Totp", "/Password", "/Invite", "/Logout", "/Account" })
                o.Conventions.AllowAnonymousToPage(open);
        });
        builder.Services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "herald_af";
            o.Cookie.Path = "/panel";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        return builder;
    }

    /// <summary>Security headers on panel responses, then the login rate limiter, authentication and authorization.</summary>
    public static WebApplication UsePanel(this WebApplication app)
    {
        app.Use((http, next) =>
        {
            if (http.Request.Path.StartsWithSegments("/panel"))
            {
                var h = http.Response.Headers;
                h.ContentSecurityPolicy = Csp;
                h.XContentTypeOptions = "nosniff";
                h.XFrameOptions = "DENY";
                h["Referrer-Policy"] = "same-origin";
                if (!http.Request.Path.StartsWithSegments("/panel/assets")) h.CacheControl = "no-store";
            }
            return next(http);
        });
        app.UseRateLimiter();
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    public static IEndpointRouteBuilder MapPanel(this IEndpointRouteBuilder app)
    {
        app.MapRazorPages();
        app.MapGet("/panel/assets/{name}", (string name) =>
        {
            var type = Path.GetExtension(name) switch { ".css" => "text/css; charset=utf-8", ".js" => "text/javascript; charset=utf-8", _ => null };
            var stream = type is null ? null : typeof(PanelSetup).Assembly.GetManifestResourceStream($"Herald.Server.Panel.Assets.{name}");
            return stream is null ? Results.NotFound() : Results.Stream(stream, type);
        }).ExcludeFromDescription().AllowAnonymous();
        return app;
    }
}
