using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;

namespace Herald.Server.Accounts;

/// <summary>
/// The panel's cookie session. The cookie carries when it was issued and last used; every request
/// checks them against <see cref="TimeProvider"/> (30 minutes idle, or the "keep me logged in"
/// bound) and the account's security stamp (a password change ends every other session).
/// </summary>
public static class PanelSession
{
    public const string Scheme = "panel";
    public const string CookieName = "herald_panel";
    public const string StageClaim = "herald:stage", StampClaim = "herald:stamp", PersistClaim = "herald:persist";
    private const string Issued = "herald.issued", Seen = "herald.seen";

    public static long? UserId(this ClaimsPrincipal p) =>
        long.TryParse(p.FindFirstValue(ClaimTypes.NameIdentifier), CultureInfo.InvariantCulture, out var id) ? id : null;

    public static string? Stage(this ClaimsPrincipal p) => p.FindFirstValue(StageClaim);

    public static bool KeepLoggedIn(this ClaimsPrincipal p) => p.FindFirstValue(PersistClaim) == "1";

    public static Task SignInAsync(HttpContext http, PanelUser user, string stage, bool persistent)
    {
        var now = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        var o = http.RequestServices.GetRequiredService<IOptions<AccountOptions>>().Value;
        var identity = new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, user.Id.ToString(CultureInfo.InvariantCulture)),
            new Claim(ClaimTypes.Name, user.Email),
            new Claim(StampClaim, user.SecurityStamp),
            new Claim(StageClaim, stage),
            new Claim(PersistClaim, persistent ? "1" : "0"),
        ], Scheme);
        var props = new AuthenticationProperties
        {
            IsPersistent = persistent,
            IssuedUtc = now,
            ExpiresUtc = now + (persistent ? o.PersistentSession : o.IdleTimeout),
            AllowRefresh = true,
        };
        props.Items[Issued] = now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        props.Items[Seen] = props.Items[Issued];
        return http.SignInAsync(Scheme, new ClaimsPrincipal(identity), props);
    }

    /// <summary>Refuses idle, over-age or stale sessions; slides the idle window on every accepted request.</summary>
    public static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var services = context.HttpContext.RequestServices;
        var o = services.GetRequiredService<IOptions<AccountOptions>>().Value;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var props = context.Properties;
        var issued = Read(props, Issued);
        var seen = Read(props, Seen);
        var userId = context.Principal?.UserId();
        string? why = null;
        if (issued is null || seen is null || userId is null) why = "malformed session";
        else if (props.IsPersistent ? now.ToUnixTimeMilliseconds() - issued > (long)o.PersistentSession.TotalMilliseconds
                                    : now.ToUnixTimeMilliseconds() - seen > (long)o.IdleTimeout.TotalMilliseconds)
            why = props.IsPersistent ? "session reached its maximum age" : "idle timeout";
        PanelUser? user = null;
        if (why is null)
        {
            user = await services.GetRequiredService<AccountService>().FindAsync(userId!.Value, context.HttpContext.RequestAborted);
            if (user is null || user.DisabledAt is not null) why = "account removed";
            else if (user.SecurityStamp != context.Principal!.FindFirstValue(StampClaim)) why = "password changed elsewhere";
        }
        if (why is not null)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
            if (user is not null || userId is not null)
                context.HttpContext.Items["herald.session.ended"] = why;
            return;
        }
        props.Items[Seen] = now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        props.IssuedUtc = now;
        props.ExpiresUtc = props.IsPersistent
            ? DateTimeOffset.FromUnixTimeMilliseconds(issued!.Value) + o.PersistentSession
            : now + o.IdleTimeout;
        context.ShouldRenew = true;
    }

    private static long? Read(AuthenticationProperties p, string key) =>
        p.Items.TryGetValue(key, out var v) && long.TryParse(v, CultureInfo.InvariantCulture, out var x) ? x : null;
}
