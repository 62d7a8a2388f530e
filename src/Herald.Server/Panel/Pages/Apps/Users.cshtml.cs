using Herald.Server.Accounts;
using Herald.Server.Campaigns;
using Herald.Server.Delivery;
using Herald.Server.Identity;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>Look up one user or device by external id, installation id or email (read-only, through <see cref="IdentityStore"/>): profile, devices, messages received (<see cref="RecipientMessages"/>), recent events.</summary>
public sealed class UsersModel(AccountService accounts, IdentityStore identity, RecipientMessages messages, TestSends tests) : PanelPage(accounts)
{
    public override string Section => "users";
    public string? Q { get; private set; }
    public UserView? Profile { get; private set; }
    public DeviceView? Device { get; private set; }
    public IReadOnlyList<string> Matches { get; private set; } = [];
    public IReadOnlyList<EventView> Events { get; private set; } = [];
    public IReadOnlyList<ReceivedMessage> Messages { get; private set; } = [];
    public bool Searched => Q is not null;
    public TestSendResult? TestResult { get; private set; }

    /// <summary>A test push to one device through <see cref="TestSends"/>; the provider's answer is shown as is.</summary>
    [Needs(Permission.EditCampaigns)]
    public Task<IActionResult> OnPostTestPushAsync(string? q, string installationId, string? title, string? body) =>
        TestSendAsync(q, installationId, "push", ct => tests.PushAsync(AppId, installationId, new TestPushRequest(title ?? "Test from Herald", body ?? "It works."), ct));

    /// <summary>A test email to the user's address through <see cref="TestSends"/> (opt-in and suppression respected).</summary>
    [Needs(Permission.EditCampaigns)]
    public Task<IActionResult> OnPostTestEmailAsync(string? q, string externalId) =>
        TestSendAsync(q, externalId, "email", ct => tests.EmailAsync(AppId, externalId,
            new TestEmailRequest("Test from Herald", "<p>It works.</p>", "It works."), ct));

    /// <summary>A test SMS to the user's phone through <see cref="TestSends"/> (opt-in respected).</summary>
    [Needs(Permission.EditCampaigns)]
    public Task<IActionResult> OnPostTestSmsAsync(string? q, string externalId) =>
        TestSendAsync(q, externalId, "sms", ct => tests.SmsAsync(AppId, externalId, new TestSmsRequest("Test from Herald: it works."), ct));

    /// <summary>One test send to <paramref name="to"/> (a device for push, a user otherwise): audited, and the provider's answer shown.</summary>
    private async Task<IActionResult> TestSendAsync(string? q, string to, string channel, Func<CancellationToken, Task<TestSendResult>> send)
    {
        if (await TryAsync(async () =>
        {
            TestResult = await send(HttpContext.RequestAborted);
            await AuditAsync($"test.{channel}", $"{(channel == "push" ? "device" : "user")} {to}: {TestResult.Outcome}{(TestResult.Reason is null ? "" : " (" + TestResult.Reason + ")")}");
        }))
        {
            var what = channel switch { "sms" => "SMS", "email" => "email", _ => "push" };
            if (TestResult!.Outcome == Herald.Gateways.OutcomeKind.Delivered) Flash = $"Test {what} sent to {to} (message {TestResult.MessageId}).";
            else Error = $"Test {what} to {to}: {TestResult.Outcome}{(TestResult.Reason is null ? "" : " — " + TestResult.Reason)}"
                + $"{(TestResult.DeviceUninstalled ? "; the device is now marked uninstalled" : "")}{(TestResult.AddressSuppressed ? "; the address is now suppressed" : "")}.";
        }
        await OnGetAsync(q ?? to);
        return Page();
    }

    public async Task OnGetAsync(string? q)
    {
        Q = string.IsNullOrWhiteSpace(q) ? null : q.Trim();
        if (Q is null) return;
        var ct = HttpContext.RequestAborted;
        if (Q.Contains('@'))
        {
            Matches = await identity.ExternalIdsByEmailAsync(AppId, Q, 20, ct);
            if (Matches.Count == 1) Profile = await identity.GetUserAsync(AppId, Matches[0], ct);
        }
        Profile ??= await identity.GetUserAsync(AppId, Q, ct);
        if (Profile is null)
        {
            Device = await identity.GetDeviceAsync(AppId, Q, ct);
            if (Device?.ExternalId is { } ext) Profile = await identity.GetUserAsync(AppId, ext, ct);
        }
        if (Profile is not null)
        {
            Events = await identity.RecentEventsAsync(AppId, Profile.ExternalId, null, 50, ct);
            Messages = await messages.ForUserAsync(AppId, Profile.ExternalId, 50, ct);
        }
        else if (Device is not null)
        {
            Events = await identity.RecentEventsAsync(AppId, null, Device.InstallationId, 50, ct);
            Messages = await messages.ForDeviceAsync(AppId, Device.InstallationId, 50, ct);
        }
    }
}
