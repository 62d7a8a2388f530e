using Herald.Server.Accounts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.RateLimiting;

namespace Herald.Server.Panel.Pages;

[EnableRateLimiting(AccountSetup.LoginLimit)]
public sealed class TotpModel(AccountService accounts) : PageModel
{
    public string? Error { get; set; }

    public IActionResult OnGet() => User.Stage() == Stage.Totp ? Page() : Redirect("/panel/login");

    public async Task<IActionResult> OnPostAsync(string? code)
    {
        if (User.Stage() != Stage.Totp || User.UserId() is not { } id) return Redirect("/panel/login");
        var result = await accounts.VerifyTotpAsync(id, code, HttpContext.Connection.RemoteIpAddress?.ToString(), HttpContext.RequestAborted);
        if (result.Outcome == SignInOutcome.Locked)
        {
            await HttpContext.SignOutAsync(PanelSession.Scheme);
            return Redirect("/panel/login");
        }
        if (result.Outcome == SignInOutcome.Failed)
        {
            Error = "That code is not right. Check your device's clock and try the current code.";
            return Page();
        }
        await PanelSession.SignInAsync(HttpContext, result.User!, result.Stage!, User.KeepLoggedIn());
        return Redirect(StagePages.For(result.Stage!));
    }
}
