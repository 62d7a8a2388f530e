using Herald.Server.Accounts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Herald.Server.Panel.Pages;

public sealed class LogoutModel(AccountService accounts) : PageModel
{
    public IActionResult OnGet() => Redirect("/panel");

    public async Task<IActionResult> OnPostAsync()
    {
        if (User.UserId() is { } id && await accounts.FindAsync(id, HttpContext.RequestAborted) is { } user)
            await accounts.SignedOutAsync(user, "user logged out", HttpContext.Connection.RemoteIpAddress?.ToString(), HttpContext.RequestAborted);
        await HttpContext.SignOutAsync(PanelSession.Scheme);
        return Redirect("/panel/login");
    }
}
