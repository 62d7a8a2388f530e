using Herald.Server.Accounts;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>The app's audit log, newest first (owners: <see cref="Permission.ManageSecurity"/>).</summary>
public sealed class AuditModel(AccountService accounts, AuditLog audit) : PanelPage(accounts)
{
    public override string Section => "audit";
    public IReadOnlyList<AuditEntry> Entries { get; private set; } = [];
    public string? Filter { get; private set; }

    [Needs(Permission.ManageSecurity)]
    public async Task OnGetAsync(string? q)
    {
        Filter = string.IsNullOrWhiteSpace(q) ? null : q.Trim();
        var all = await audit.ReadAsync(AppId, 500, HttpContext.RequestAborted);
        Entries = Filter is null ? all : all.Where(e =>
            e.Action.Contains(Filter, StringComparison.OrdinalIgnoreCase) || e.Actor.Contains(Filter, StringComparison.OrdinalIgnoreCase)
            || (e.Detail?.Contains(Filter, StringComparison.OrdinalIgnoreCase) ?? false)).ToList();
    }
}
