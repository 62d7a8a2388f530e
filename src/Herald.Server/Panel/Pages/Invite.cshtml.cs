using Herald.Server.Accounts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.RateLimiting;

namespace Herald.Server.Panel.Pages;

[EnableRateLimiting(AccountSetup.LoginLimit)]
public sealed class InviteModel(AccountService accounts) : PageModel
{
    public InvitationView? Invitation { get; private set; }
    public IReadOnlyList<string> Errors { get; private set; } = [];

    public async Task OnGetAsync(string token) => Invitation = await accounts.InvitationAsync(token, HttpContext.RequestAborted);

    public async Task<IActionResult> OnPostAsync(string token, string? password)
    {
        Invitation = await accounts.InvitationAsync(token, HttpContext.RequestAborted);
        Errors = await accounts.AcceptInvitationAsync(token, password, HttpContext.Connection.RemoteIpAddress?.ToString(), HttpContext.RequestAborted);
        return Errors.Count > 0 ? Page() : Redirect("/panel/login");
    }
}
