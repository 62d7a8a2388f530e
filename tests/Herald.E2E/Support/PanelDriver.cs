using Herald.Server.Accounts;
using Microsoft.Extensions.DependencyInjection;
using System.Text.RegularExpressions;
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
        await page.ArrivedAsync("**/panel", host);
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

public static class PageArrival
{
    /// <summary>
    /// Waits until the page's address matches <paramref name="glob"/> (<c>**</c> any text, <c>*</c> one
    /// path segment). It watches the address itself rather than waiting for a navigation and its load
    /// event, which Playwright can miss when the redirect lands between its check and its listening
    /// (seen on loaded 2-core machines); what the test does next waits for its own elements.
    /// </summary>
    public static async Task ArrivedAsync(this IPage page, string glob, E2EHost? host = null)
    {
        var pattern = new Regex("^" + Regex.Escape(glob).Replace(@"\*\*", ".*", StringComparison.Ordinal).Replace(@"\*", "[^/]*", StringComparison.Ordinal) + @"(\?.*)?$");
        try
        {
            await Assertions.Expect(page).ToHaveURLAsync(pattern, new() { Timeout = 30_000 });
        }
        catch (PlaywrightException e)
        {
            var state = await page.EvaluateAsync<string>("() => document.readyState").ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : "(unreadable)");
            var text = await page.Locator("body").InnerTextAsync(new() { Timeout = 5000 }).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : "(unreadable)");
            throw new TimeoutException($"The page did not reach {glob}; it is at {page.Url} ({state}) showing: {text}" +
                (host is null ? "" : $"\nHost log:\n{host.Log.Tail()}"), e);
        }
    }
}
