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
    public async Task<IActionResult> OnPostSettingsAsync(string? webhookUrl, string? emails, string? campaignFailurePercent, string? providerErrorPercent)
    {
        var list = (emails ?? "").Split([',', '\n', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var ok = await TryAsync(async () =>
        {
            var input = new AlertSettingsInput(webhookUrl, list, Share(campaignFailurePercent, "campaignFailureRate"), Share(providerErrorPercent, "providerErrorRate"));
            var saved = await alerts.SetSettingsAsync(AppId, input, HttpContext.RequestAborted);
            await AuditAsync("alerts.settings", $"webhook={saved.WebhookUrl ?? "none"}; emails={string.Join(',', saved.Emails)}; " +
                $"campaignFailureRate={saved.CampaignFailureRate?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"}; " +
                $"providerErrorRate={saved.ProviderErrorRate?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"}");
        });
        if (ok) Flash = "Alert settings saved.";
        else Response.StatusCode = StatusCodes.Status400BadRequest;
        await LoadAsync();
        return Page();
    }

    /// <summary>A percentage typed in the form as the share the service takes (empty: the installation's).</summary>
    private static double? Share(string? percent, string field) =>
        string.IsNullOrWhiteSpace(percent) ? null
        : double.TryParse(percent.Trim().TrimEnd('%'), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var p) ? p / 100
        : throw Infrastructure.ProblemException.BadRequest($"{field} must be a percentage; got '{percent}'.", field);

    public static string Percent(double? share) => share is { } s ? (s * 100).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) : "";

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
