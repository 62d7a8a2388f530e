using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.RateLimiting;

namespace Herald.Server.Accounts;

public static class AccountSetup
{
    public const string FullSession = "panel", LoginLimit = "panel-login";

    public static IHostApplicationBuilder AddAccounts(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AccountOptions>().Bind(builder.Configuration.GetSection(AccountOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<AuditLog>();
        builder.Services.AddSingleton<AccountService>();

        builder.Services.AddAuthentication(PanelSession.Scheme).AddCookie(PanelSession.Scheme, o =>
        {
            o.Cookie.Name = PanelSession.CookieName;
            o.Cookie.Path = "/panel";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.LoginPath = "/panel/login";
            o.SlidingExpiration = false; // the idle window slides in PanelSession.ValidateAsync, on TimeProvider
            o.Events.OnValidatePrincipal = PanelSession.ValidateAsync;
            o.Events.OnRedirectToLogin = ctx =>
            {
                if (IsFetch(ctx.Request)) ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                else
                {
                    var ended = ctx.HttpContext.Items.ContainsKey("herald.session.ended") ? "&ended=1" : "";
                    ctx.Response.Redirect($"/panel/login?returnUrl={Uri.EscapeDataString(ctx.Request.Path + ctx.Request.QueryString)}{ended}");
                }
                return Task.CompletedTask;
            };
            o.Events.OnRedirectToAccessDenied = ctx =>
            {
                // Signed in but not finished (second factor, forced password change): send them there first.
                var next = ctx.HttpContext.User.Stage() switch
                {
                    Stage.Totp => "/panel/login/totp",
                    Stage.ChangePassword => "/panel/password",
                    Stage.EnrollTotp => "/panel/account/totp",
                    _ => null,
                };
                if (next is not null && !IsFetch(ctx.Request)) ctx.Response.Redirect(next);
                else ctx.Response.StatusCode = StatusCodes.Status403Forbidden;
                return Task.CompletedTask;
            };
        });
        builder.Services.AddOptions<CookieAuthenticationOptions>(PanelSession.Scheme)
            .Configure<TimeProvider>((o, clock) => o.TimeProvider = clock);
        builder.Services.AddAuthorizationBuilder().AddPolicy(FullSession, p => p
            .AddAuthenticationSchemes(PanelSession.Scheme).RequireAuthenticatedUser().RequireClaim(PanelSession.StageClaim, Stage.Full));

        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(LoginLimit, http =>
            {
                if (!HttpMethods.IsPost(http.Request.Method)) return RateLimitPartition.GetNoLimiter("read");
                var perMinute = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<AccountOptions>>().Value.LoginAttemptsPerMinute;
                return RateLimitPartition.GetFixedWindowLimiter(http.Connection.RemoteIpAddress?.ToString() ?? "local",
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 });
            });
        });
        return builder;
    }

    private static bool IsFetch(HttpRequest r) =>
        r.Headers.Accept.Any(a => a?.Contains("application/json", StringComparison.Ordinal) == true) || r.Headers.ContainsKey("RequestVerificationToken") && !HttpMethods.IsGet(r.Method);
}
