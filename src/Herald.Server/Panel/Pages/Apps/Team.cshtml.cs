using Herald.Server.Accounts;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>Members of the app: invite, change roles (up to one's own, <see cref="Roles.CanGrant"/>), unlock; owners also set app security.</summary>
public sealed class TeamModel(AccountService accounts) : PanelPage(accounts)
{
    public override string Section => "team";
    public IReadOnlyList<MemberView> Members { get; private set; } = [];
    public IReadOnlyList<InvitationView> Invitations { get; private set; } = [];
    public AppSecurity? Security { get; private set; }
    public string? InviteLink { get; private set; }

    public Task OnGetAsync() => LoadAsync();

    public bool CanGrant(string role) => Role is { } mine && Roles.CanGrant(mine, role);

    [Needs(Permission.ManageTeam)]
    public async Task<IActionResult> OnPostInviteAsync(string? email, string? role)
    {
        email = AccountService.Normalize(email);
        if (email.Length is 0 or > 254 || !email.Contains('@')) Error = "Enter the email address to invite.";
        else if (!Roles.IsKnown(role) || !CanGrant(role!)) Error = $"As {Role} you can grant: {string.Join(", ", Roles.All.Where(CanGrant))}.";
        else
        {
            var token = await Accounts.InviteAsync(Me, AppId, email, role!, Address, HttpContext.RequestAborted);
            if (token is null) Flash = $"{email} already has an account and is now {role} in {App!.Name}.";
            else
            {
                InviteLink = $"{Request.Scheme}://{Request.Host}/panel/invite/{token}";
                Flash = $"Invitation for {email} created.";
            }
        }
        return await DoneAsync();
    }

    [Needs(Permission.ManageTeam)]
    public async Task<IActionResult> OnPostRoleAsync(long userId, string? role)
    {
        var target = (await Accounts.MembersAsync(AppId, HttpContext.RequestAborted)).FirstOrDefault(m => m.UserId == userId);
        if (target is null) return NotFound();
        if (target.Owner) Error = $"{target.Email} is an installation owner (made with the CLI); their role cannot be changed here.";
        else if (target.Role is { } current && !CanGrant(current)) Error = $"{target.Email} is {current}; only an owner can change that.";
        else if (role == "remove") { await Accounts.SetRoleAsync(Me, AppId, userId, null, Address, HttpContext.RequestAborted); Flash = $"{target.Email} removed from {App!.Name}."; }
        else if (!Roles.IsKnown(role) || !CanGrant(role!)) Error = $"As {Role} you can grant: {string.Join(", ", Roles.All.Where(CanGrant))}.";
        else { await Accounts.SetRoleAsync(Me, AppId, userId, role, Address, HttpContext.RequestAborted); Flash = $"{target.Email} is now {role}."; }
        return await DoneAsync();
    }

    [Needs(Permission.ManageTeam)]
    public async Task<IActionResult> OnPostUnlockAsync(long userId)
    {
        var target = (await Accounts.MembersAsync(AppId, HttpContext.RequestAborted)).FirstOrDefault(m => m.UserId == userId);
        if (target is null) return NotFound();
        await Accounts.UnlockAsync(Me, AppId, userId, Address, HttpContext.RequestAborted);
        Flash = $"{target.Email} unlocked.";
        return await DoneAsync();
    }

    [Needs(Permission.ManageSecurity)]
    public async Task<IActionResult> OnPostSecurityAsync(int? expiryDays, bool requireTotp)
    {
        if (expiryDays is < 1 or > 3650) Error = "Password expiry must be 1 to 3650 days, or empty for the installation default.";
        else { await Accounts.SetAppSecurityAsync(Me, AppId, expiryDays, requireTotp, Address, HttpContext.RequestAborted); Flash = "Security settings saved."; }
        return await DoneAsync();
    }

    private async Task<IActionResult> DoneAsync()
    {
        if (Error is not null) Response.StatusCode = StatusCodes.Status400BadRequest;
        await LoadAsync();
        return Page();
    }

    private async Task LoadAsync()
    {
        var ct = HttpContext.RequestAborted;
        Members = await Accounts.MembersAsync(AppId, ct);
        Invitations = await Accounts.PendingInvitationsAsync(AppId, ct);
        if (Can(Permission.ManageSecurity)) Security = await Accounts.AppSecurityAsync(AppId, ct);
    }
}
