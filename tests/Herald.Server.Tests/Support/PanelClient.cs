using System.Net;
using System.Text.RegularExpressions;
using Herald.Server.Accounts;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Herald.Tests.Support;

/// <summary>A browser-like client for the panel: keeps cookies, does not follow redirects, posts forms with the anti-forgery token.</summary>
public sealed partial class PanelClient(HttpClient http)
{
    public HttpClient Http { get; } = http;

    public static PanelClient For(HeraldHost host) =>
        new(host.Client(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true }));

    public async Task<(HttpStatusCode Status, string Body, string? Location)> GetAsync(string url)
    {
        using var res = await Http.GetAsync(url);
        return (res.StatusCode, await res.Content.ReadAsStringAsync(), res.Headers.Location?.OriginalString);
    }

    /// <summary>Loads <paramref name="formPage"/> for its token, then posts the form to <paramref name="action"/> (default: the same page).</summary>
    public Task<(HttpStatusCode Status, string Body, string? Location)> PostFormAsync(string formPage, IDictionary<string, string> fields, string? action = null, bool withToken = true) =>
        PostFormPairsAsync(formPage, fields, action, withToken);

    /// <summary>As <see cref="PostFormAsync"/>, for forms whose rows repeat a field name (buttons, data, languages).</summary>
    public async Task<(HttpStatusCode Status, string Body, string? Location)> PostFormPairsAsync(string formPage, IEnumerable<KeyValuePair<string, string>> fields, string? action = null, bool withToken = true)
    {
        var page = await GetAsync(formPage);
        var form = fields.Where(x => !withToken || x.Key != "__RequestVerificationToken").ToList();
        if (withToken)
        {
            var m = TokenRegex().Match(page.Body);
            if (!m.Success) throw new InvalidOperationException($"No anti-forgery token on {formPage} ({page.Status} {page.Location}): {page.Body[..Math.Min(300, page.Body.Length)]}");
            form.Add(new("__RequestVerificationToken", m.Groups[1].Value));
        }
        using var res = await Http.PostAsync(action ?? formPage, new FormUrlEncodedContent(form));
        return (res.StatusCode, await res.Content.ReadAsStringAsync(), res.Headers.Location?.OriginalString);
    }

    /// <summary>Loads <paramref name="formPage"/> for its token, then posts one file as multipart/form-data to <paramref name="action"/>.</summary>
    public async Task<(HttpStatusCode Status, string Body, string? Location)> PostFileAsync(string formPage, string action, string field, string fileName, byte[] data)
    {
        var page = await GetAsync(formPage);
        var m = TokenRegex().Match(page.Body);
        if (!m.Success) throw new InvalidOperationException($"No anti-forgery token on {formPage} ({page.Status})");
        using var form = new MultipartFormDataContent { { new StringContent(m.Groups[1].Value), "__RequestVerificationToken" }, { new ByteArrayContent(data), field, fileName } };
        using var res = await Http.PostAsync(action, form);
        return (res.StatusCode, await res.Content.ReadAsStringAsync(), res.Headers.Location?.OriginalString);
    }

    public Task<(HttpStatusCode Status, string Body, string? Location)> LoginAsync(string email, string password, bool keep = false) =>
        PostFormAsync("/panel/login", new Dictionary<string, string> { ["email"] = email, ["password"] = password, ["keep"] = keep ? "true" : "false" });

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenRegex();
}

/// <summary>Panel accounts made straight through the service (the CLI's and invitations' paths).</summary>
public static class PanelAccounts
{
    public const string Password = "Correct-Horse-42-battery";

    /// <summary>An installation owner with <see cref="Password"/> already chosen (one-time password changed).</summary>
    public static async Task<PanelUser> OwnerAsync(HeraldHost host)
    {
        var accounts = host.Services.GetRequiredService<AccountService>();
        var (user, once) = await accounts.CreateOwnerAsync($"owner-{Guid.NewGuid():N}@example.com");
        (await accounts.ChangePasswordAsync(user.Id, once, Password, "test")).ShouldBeEmpty();
        return (await accounts.FindAsync(user.Id))!;
    }

    /// <summary>A member of <paramref name="appId"/> with <paramref name="role"/>, joined through an invitation.</summary>
    public static async Task<PanelUser> MemberAsync(HeraldHost host, long appId, string role, PanelUser? inviter = null)
    {
        var accounts = host.Services.GetRequiredService<AccountService>();
        inviter ??= await OwnerAsync(host);
        var email = $"{role}-{Guid.NewGuid():N}@example.com";
        var token = await accounts.InviteAsync(inviter, appId, email, role, "test");
        token.ShouldNotBeNull();
        (await accounts.AcceptInvitationAsync(token, Password, "test")).ShouldBeEmpty();
        return (await accounts.FindByEmailAsync(email))!;
    }
}
