using Herald.Server.Accounts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Herald.E2E.Support;

/// <summary>Panel accounts made through the service (the CLI's and invitations' paths) and browser pages signed in as them.</summary>
public sealed class PanelDriver(E2EHost host)
{
    public const string Password = "Correct-Horse-42-battery";
    public AccountService Accounts => host.Services.GetRequiredService<AccountService>();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async Task<PanelUser> OwnerAsync()
    {
        var (user, once) = await Accounts.CreateOwnerAsync($"owner-{Guid.NewGuid():N}@example.com", Ct);
        (await Accounts.ChangePasswordAsync(user.Id, once, Password, "test", Ct)).ShouldBeEmpty();
        return user;
    }

    public async Task<PanelUser> MemberAsync(long appId, string role, PanelUser inviter)
    {
        var email = $"{role}-{Guid.NewGuid():N}@example.com";
        var token = await Accounts.InviteAsync(inviter, appId, email, role, "test", Ct);
        (await Accounts.AcceptInvitationAsync(token!, Password, "test", Ct)).ShouldBeEmpty();
        return (await Accounts.FindByEmailAsync(email, Ct))!;
    }

    public async Task<IPage> PageAsync()
    {
        var context = await host.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = host.BaseAddress.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
        return await context.NewPageAsync();
    }

    /// <summary>A new browser context signed in as <paramref name="user"/>; confirmations are accepted and reason prompts answered with <paramref name="reason"/>.</summary>
    public async Task<IPage> SignedInAsync(PanelUser user, string reason = "E2E check")
    {
        var page = await PageAsync();
        page.Dialog += async (_, d) => { if (d.Type == "prompt") await d.AcceptAsync(reason); else await d.AcceptAsync(); };
        await LoginAsync(page, user.Email, Password);
        try
        {
            await page.WaitForURLAsync("**/panel");
        }
        catch (TimeoutException e)
        {
            var text = await page.Locator("body").InnerTextAsync(new() { Timeout = 5000 }).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : "(unreadable)");
            throw new TimeoutException($"Signing in as {user.Email} did not reach /panel; the page is {page.Url} showing: {text}\nHost log:\n{host.Log.Tail()}", e);
        }
        return page;
    }

    public static async Task LoginAsync(IPage page, string email, string password)
    {
        await page.GotoAsync("/panel/login");
        await page.FillAsync("input[name=email]", email);
        await page.FillAsync("input[name=password]", password);
        await page.ClickAsync("button[type=submit]");
    }

    public static Task ShotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(E2EHost.Artifacts, $"panel-{name}.png"), FullPage = true });
}
