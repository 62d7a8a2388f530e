using Herald.Server.Accounts;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages;

/// <summary>The member's own password and TOTP. Also the enrolment stage when an app requires two-factor.</summary>
public sealed class AccountModel(AccountService accounts) : PanelPage(accounts)
{
    public override string Section => "account";
    public int ExpiryDays { get; private set; }
    public string? Secret { get; private set; }
    public string? Uri { get; private set; }
    public bool MustEnrol => User.Stage() == Stage.EnrollTotp;

    protected override bool AllowsStage(string stage) => stage is Stage.Full or Stage.EnrollTotp;

    public async Task OnGetAsync()
    {
        ExpiryDays = await Accounts.ExpiryDaysAsync(Me, HttpContext.RequestAborted);
        if (!Me.HasTotp && Me.TotpSecret is not null) Show(Me.TotpSecret);
    }

    [Needs(Permission.View)]
    public async Task<IActionResult> OnPostBeginAsync()
    {
        Show(await Accounts.BeginTotpEnrolmentAsync(Me.Id, HttpContext.RequestAborted));
        ExpiryDays = await Accounts.ExpiryDaysAsync(Me, HttpContext.RequestAborted);
        return Page();
    }

    [Needs(Permission.View)]
    public async Task<IActionResult> OnPostConfirmAsync(string? code)
    {
        if (!await Accounts.ConfirmTotpAsync(Me.Id, code, Address, HttpContext.RequestAborted))
        {
            Error = "That code is not right. Check your device's clock and enter the current code.";
            await OnGetAsync();
            return Page();
        }
        var user = (await Accounts.FindAsync(Me.Id, HttpContext.RequestAborted))!;
        await PanelSession.SignInAsync(HttpContext, user, await Accounts.NextStageAsync(user, totpDone: true, HttpContext.RequestAborted), User.KeepLoggedIn());
        return Redirect("/panel/account");
    }

    [Needs(Permission.View)]
    public async Task<IActionResult> OnPostDisableAsync()
    {
        await Accounts.DisableTotpAsync(Me.Id, Address, HttpContext.RequestAborted);
        return Redirect("/panel/account");
    }

    private void Show(string secret)
    {
        Secret = secret;
        Uri = Totp.OtpAuthUri("Herald", Me.Email, Totp.FromBase32(secret));
    }
}
