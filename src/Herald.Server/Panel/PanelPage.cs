using System.Globalization;
using System.Reflection;
using Herald.Server.Accounts;
using Herald.Server.Infrastructure;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Herald.Server.Panel;

/// <summary>What a page handler needs in the current app. GET handlers need <see cref="Permission.View"/> unless marked.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class NeedsAttribute(Permission permission) : Attribute
{
    public Permission Permission { get; } = permission;
}

/// <summary>Installation-wide pages (no app in the route) that only installation owners may use.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class OwnersOnlyAttribute : Attribute;

/// <summary>
/// Base of every signed-in panel page: loads the member, their apps and their role in the app named
/// by the <c>appId</c> route value, and refuses a handler whose <see cref="NeedsAttribute"/> the role
/// does not allow (403). POST handlers must say what they need.
/// </summary>
public abstract class PanelPage(AccountService accounts) : PageModel
{
    protected AccountService Accounts { get; } = accounts;
    public PanelUser Me { get; private set; } = null!;
    public IReadOnlyList<AppAccess> MyApps { get; protected set; } = [];
    public AppAccess? App { get; private set; }
    public string? Role => App?.Role;
    public long AppId => App?.AppId ?? 0;
    public string? Flash { get; set; }
    public string? Error { get; set; }
    public virtual string Section => "";
    protected string? Address => HttpContext.Connection.RemoteIpAddress?.ToString();

    public bool Can(Permission p) => Roles.Allows(Role, p);

    /// <summary>This page's address with its filters, answered as a CSV download (pages with a <c>csv</c> handler).</summary>
    public string CsvUrl => Request.Path + Request.QueryString.Add("handler", "csv");

    public override async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        var ct = HttpContext.RequestAborted;
        var user = User.UserId() is { } id ? await Accounts.FindAsync(id, ct) : null;
        if (user is null)
        {
            context.Result = Challenge();
            return;
        }
        if (User.Stage() is not { } stage || !AllowsStage(stage))
        {
            context.Result = Redirect(StagePages.For(User.Stage() ?? Stage.Totp));
            return;
        }
        Me = user;
        MyApps = await Accounts.AppsAsync(user, ct);
        var method = context.HandlerMethod?.MethodInfo;
        var needs = method?.GetCustomAttribute<NeedsAttribute>()?.Permission;
        if (needs is null && !HttpMethods.IsGet(Request.Method))
            throw new InvalidOperationException($"{GetType().Name}.{method?.Name} changes state but does not declare [Needs(...)].");

        if (RouteData.Values.TryGetValue("appId", out var raw) && long.TryParse(raw?.ToString(), CultureInfo.InvariantCulture, out var appId))
        {
            App = MyApps.FirstOrDefault(a => a.AppId == appId);
            if (App is null)
            {
                context.Result = NotFound();
                return;
            }
            if (!Roles.Allows(App.Role, needs ?? Permission.View))
            {
                context.Result = Refused($"Your role in {App.Name} is {App.Role}; this needs {Describe(needs ?? Permission.View)}.");
                await Accounts.AuditAsync(Me, App.AppId, "refused", $"{Request.Method} {Request.Path} needs {needs ?? Permission.View}", Address, ct);
                return;
            }
        }
        else if (GetType().GetCustomAttribute<OwnersOnlyAttribute>() is not null && !Me.IsOwner)
        {
            context.Result = Refused("Only installation owners can open this page.");
            return;
        }
        await next();
    }

    /// <summary>Runs a change through the shared service; a rule it refuses becomes the page's error message.</summary>
    protected async Task<bool> TryAsync(Func<Task> change)
    {
        try
        {
            await change();
            return true;
        }
        catch (ProblemException p) when (p.Status is >= 400 and < 500)
        {
            Error = p.Message;
            return false;
        }
    }

    protected Task AuditAsync(string action, string? detail) => Accounts.AuditAsync(Me, App?.AppId, action, detail, Address, HttpContext.RequestAborted);

    /// <summary>Only finished sign-ins reach panel pages; the account page also serves TOTP enrolment.</summary>
    protected virtual bool AllowsStage(string stage) => stage == Stage.Full;

    protected PartialViewResult Refused(string why)
    {
        var r = Partial("_Refused", why);
        r.StatusCode = StatusCodes.Status403Forbidden;
        return r;
    }

    private static string Describe(Permission p) => p switch
    {
        Permission.View => "viewer or above",
        Permission.EditAudience or Permission.Export or Permission.EditCampaigns => "marketer, admin or owner",
        Permission.ApproveCampaigns => "approver, admin or owner",
        Permission.ManageApp or Permission.ManageTeam => "admin or owner",
        _ => "owner",
    };

    public static string When(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
