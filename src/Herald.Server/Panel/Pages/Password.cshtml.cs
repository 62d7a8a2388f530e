using Herald.Server.Accounts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Herald.Server.Panel.Pages;

/// <summary>Voluntary password change, and the forced one (one-time password, expiry, dormancy) before anything else.</summary>
public sealed class PasswordModel(AccountService accounts) : PageModel
{
    public bool Forced { get; private set; }
    public string? Reason { get; private set; }
    public IReadOnlyList<string> Errors { get; private set; } = [];

    private async Task<PanelUser?> LoadAsync()
    {
        var stage = User.Stage();
        if (stage is not (Stage.ChangePassword or Stage.Full) || User.UserId() is not { } id) return null;
        var user = await accounts.FindAsync(id, HttpContext.RequestAborted);
        if (user is null) return null;
        Forced = stage == Stage.ChangePassword;
        Reason = !Forced ? null : user.MustChangePassword switch
        {
            ChangeReason.OneTime => "You signed in with a one-time password. Choose your own to continue.",
            ChangeReason.Dormant => "This account was not used for 30 days. Choose a new password to continue.",
            ChangeReason.Reset => "Your password was reset. Choose a new one to continue.",
            _ => $"Your password is older than {await accounts.ExpiryDaysAsync(user, HttpContext.RequestAborted)} days and has expired. Choose a new one to continue.",
        };
        return user;
    }

    public async Task<IActionResult> OnGetAsync() => await LoadAsync() is null ? Redirect("/panel/login") : Page();

    public async Task<IActionResult> OnPostAsync(string? current, string? next, string? repeat)
    {
        var user = await LoadAsync();
        if (user is null) return Redirect("/panel/login");
        if (next != repeat)
        {
            Errors = ["The two new passwords differ."];
            return Page();
        }
        Errors = await accounts.ChangePasswordAsync(user.Id, current, next, HttpContext.Connection.RemoteIpAddress?.ToString(), HttpContext.RequestAborted);
        if (Errors.Count > 0) return Page();
        user = (await accounts.FindAsync(user.Id, HttpContext.RequestAborted))!;
        var stage = await accounts.NextStageAsync(user, totpDone: true, HttpContext.RequestAborted);
        await PanelSession.SignInAsync(HttpContext, user, stage, User.KeepLoggedIn());
        return Redirect(StagePages.For(stage));
    }
}
