using Herald.Server.Accounts;
using Herald.Server.Alerts;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>The app's alert incidents, newest first, and where its alerts go (admins and owners change that).</summary>
public sealed class AlertsModel(AccountService accounts, AlertService alerts) : PanelPage(accounts)
{
    public override string Section => "alerts";
    public IReadOnlyList<AlertView> Incidents { get; private set; } = [];
    public AlertSettingsView Settings { get; private set; } = new(null, [], null);

    public Task OnGetAsync() => LoadAsync();

    [Needs(Permission.ManageApp)]
    public async Task<IActionResult> OnPostSettingsAsync(string? webhookUrl, string? emails)
    {
        var list = (emails ?? "").Split([',', '\n', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var ok = await TryAsync(async () =>
        {
            var saved = await alerts.SetSettingsAsync(AppId, new AlertSettingsInput(webhookUrl, list), HttpContext.RequestAborted);
            await AuditAsync("alerts.settings", $"webhook={saved.WebhookUrl ?? "none"}; emails={string.Join(',', saved.Emails)}");
        });
        if (ok) Flash = "Alert settings saved.";
        else Response.StatusCode = StatusCodes.Status400BadRequest;
        await LoadAsync();
        return Page();
    }

    private async Task LoadAsync()
    {
        Incidents = await alerts.ListAsync(AppId, null, 200, HttpContext.RequestAborted);
        Settings = await alerts.SettingsAsync(AppId, HttpContext.RequestAborted);
    }

    public static string Describe(AlertView a) => a.Kind switch
    {
        AlertKinds.CampaignFailureRate => "Campaign failure rate",
        AlertKinds.ProviderErrorRate => "Provider error rate",
        AlertKinds.CredentialError => "Credentials refused",
        _ => a.Kind,
    };
}
