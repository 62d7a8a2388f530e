using Herald.Server.Accounts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.RateLimiting;

namespace Herald.Server.Panel.Pages;

[EnableRateLimiting(AccountSetup.LoginLimit)]
public sealed class LoginModel(AccountService accounts) : PageModel
{
    public string? Email { get; set; }
    public string? Error { get; set; }
    public string? Notice { get; set; }
    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    public void OnGet(bool ended = false)
    {
        if (ended) Notice = "Your session ended. Sign in again to continue.";
    }

    public async Task<IActionResult> OnPostAsync(string? email, string? password, bool keep)
    {
        Email = email;
        var result = await accounts.SignInAsync(email, password, HttpContext.Connection.RemoteIpAddress?.ToString(), HttpContext.RequestAborted);
        switch (result.Outcome)
        {
            case SignInOutcome.Locked:
                Error = $"Too many failed sign-ins. This account is locked until {result.LockedUntil:HH:mm} UTC.";
                return Page();
            case SignInOutcome.Failed:
                Error = "Email or password is wrong.";
                return Page();
        }
        await PanelSession.SignInAsync(HttpContext, result.User!, result.Stage!, keep);
        return Redirect(StagePages.For(result.Stage!, ReturnUrl));
    }
}
