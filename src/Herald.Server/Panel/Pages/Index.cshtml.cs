using Herald.Server.Accounts;
using Herald.Server.Apps;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages;

public sealed class IndexModel(AccountService accounts, AppService apps) : PanelPage(accounts)
{
    public CreatedApp? Created { get; private set; }

    public void OnGet() { }

    [Needs(Permission.ManageSecurity)]
    public async Task<IActionResult> OnPostAsync(string? name, string? category, string? timezone)
    {
        if (await TryAsync(async () => Created = await apps.CreateAsync(new CreateAppRequest(name ?? "", category, timezone), HttpContext.RequestAborted)))
        {
            await Accounts.AuditAsync(Me, Created!.App.Id, "app.create", Created.App.Name, Address, HttpContext.RequestAborted);
            MyApps = await Accounts.AppsAsync(Me, HttpContext.RequestAborted);
        }
        return Page();
    }
}
