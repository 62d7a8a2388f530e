using System.Net;
using System.Security.Cryptography;
using System.Text;
using Herald.Server.Accounts;

namespace Herald.Tests;

public sealed class TotpTests
{
    // RFC 6238 Appendix B: 8-digit codes for the ASCII seeds "1234567890" repeated to 20, 32 and 64 bytes.
    [Theory]
    [InlineData(59L, "94287082", "46119246", "90693936")]
    [InlineData(1111111109L, "07081804", "68084774", "25091201")]
    [InlineData(1111111111L, "14050471", "67062674", "99943326")]
    [InlineData(1234567890L, "89005924", "91819424", "93441116")]
    [InlineData(2000000000L, "69279037", "90698825", "38618901")]
    [InlineData(20000000000L, "65353130", "77737706", "47863826")]
    public void Rfc6238_appendix_B_vectors(long unixTime, string sha1, string sha256, string sha512)
    {
        static byte[] Seed(int length) => Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("1234567890", 7))[..length]);
        var step = Totp.Step(DateTimeOffset.FromUnixTimeSeconds(unixTime));
        Totp.Code(Seed(20), step, 8, HashAlgorithmName.SHA1).ShouldBe(sha1);
        Totp.Code(Seed(32), step, 8, HashAlgorithmName.SHA256).ShouldBe(sha256);
        Totp.Code(Seed(64), step, 8, HashAlgorithmName.SHA512).ShouldBe(sha512);
    }

    [Fact]
    public void A_code_is_accepted_within_one_step_of_drift_and_only_once()
    {
        var secret = Totp.NewSecret();
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        var code = Totp.Code(secret, Totp.Step(now));
        var used = Totp.Verify(secret, code, now.AddSeconds(30), null);
        used.ShouldBe(Totp.Step(now));
        Totp.Verify(secret, code, now, used).ShouldBeNull();
        Totp.Verify(secret, code, now.AddSeconds(90), null).ShouldBeNull();
        Totp.Verify(secret, "12345", now, null).ShouldBeNull();
        Totp.FromBase32(Totp.ToBase32(secret)).ShouldBe(secret);
        Totp.ToBase32(Encoding.ASCII.GetBytes("foobar")).ShouldBe("MZXW6YTBOI"); // RFC 4648 §10
    }

    [Fact]
    public void Weak_passwords_are_refused_with_reasons()
    {
        PasswordRules.Check("short1A!", "a@b.c").ShouldContain(e => e.Contains("12 characters"));
        PasswordRules.Check("alllowercaseletters", "a@b.c").ShouldContain(e => e.Contains("three of"));
        PasswordRules.Check("Jane.Doe-2026-pass", "jane.doe@example.com").ShouldContain(e => e.Contains("email"));
        PasswordRules.Check(PanelAccounts.Password, "x@example.com").ShouldBeEmpty();
    }

    [Fact]
    public void Roles_allow_what_the_table_says()
    {
        Roles.Allows(Roles.Viewer, Permission.View).ShouldBeTrue();
        Roles.Allows(Roles.Viewer, Permission.EditAudience).ShouldBeFalse();
        Roles.Allows(Roles.Marketer, Permission.EditAudience).ShouldBeTrue();
        Roles.Allows(Roles.Marketer, Permission.ManageApp).ShouldBeFalse();
        Roles.Allows(Roles.Admin, Permission.ManageTeam).ShouldBeTrue();
        Roles.Allows(Roles.Admin, Permission.ManageSecurity).ShouldBeFalse();
        Roles.Allows(null, Permission.View).ShouldBeFalse();
        Roles.CanGrant(Roles.Admin, Roles.Owner).ShouldBeFalse();
    }
}

public abstract class PanelSecurityTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private AccountService Accounts => host.Services.GetRequiredService<AccountService>();

    private async Task<IReadOnlyList<AuditEntry>> AuditAsync() => await host.Services.GetRequiredService<AuditLog>().ReadAsync(null, 500, CancellationToken.None);

    [Fact]
    public async Task Login_reaches_the_panel_and_a_wrong_password_does_not()
    {
        var owner = await PanelAccounts.OwnerAsync(host);
        var c = PanelClient.For(host);
        (await c.GetAsync("/panel")).Location.ShouldStartWith("/panel/login");
        var wrong = await c.LoginAsync(owner.Email, "Not-the-password-1");
        wrong.Status.ShouldBe(HttpStatusCode.OK);
        wrong.Body.ShouldContain("Email or password is wrong.");
        (await c.LoginAsync(owner.Email, PanelAccounts.Password)).Location.ShouldBe("/panel");
        var home = await c.GetAsync("/panel");
        home.Status.ShouldBe(HttpStatusCode.OK);
        home.Body.ShouldContain(owner.Email);
        (await AuditAsync()).ShouldContain(a => a.UserId == owner.Id && a.Action == "login.password");
        (await AuditAsync()).ShouldContain(a => a.UserId == owner.Id && a.Action == "login.failed");
    }

    [Fact]
    public async Task The_last_five_passwords_cannot_be_reused()
    {
        var owner = await PanelAccounts.OwnerAsync(host);
        var passwords = Enumerable.Range(1, 5).Select(i => $"Rotation-{i}-Password!").ToList();
        var current = PanelAccounts.Password;
        foreach (var next in passwords)
        {
            (await Accounts.ChangePasswordAsync(owner.Id, current, next, "test", Ct)).ShouldBeEmpty();
            current = next;
        }
        // The original password is now the sixth most recent: allowed. The fifth most recent is not.
        (await Accounts.ChangePasswordAsync(owner.Id, current, passwords[0], "test", Ct)).ShouldContain(e => e.Contains("last 5"));
        (await Accounts.ChangePasswordAsync(owner.Id, current, "weak", "test", Ct)).ShouldContain(e => e.Contains("12 characters"));
        (await Accounts.ChangePasswordAsync(owner.Id, "wrong-current", "Fresh-Password-99", "test", Ct)).ShouldBe(["The current password is wrong."]);
        (await Accounts.ChangePasswordAsync(owner.Id, current, PanelAccounts.Password, "test", Ct)).ShouldBeEmpty();
    }

    [Fact]
    public async Task An_expired_password_must_be_changed_before_anything_else()
    {
        var start = host.Clock.GetUtcNow();
        var app = await host.NewAppAsync();
        var owner = await PanelAccounts.OwnerAsync(host);
        try
        {
            var member = await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer, owner);
            await Accounts.SetAppSecurityAsync(owner, app.Id, 7, false, "test", Ct);
            (await Accounts.ExpiryDaysAsync(member, Ct)).ShouldBe(7);

            var c = PanelClient.For(host);
            (await c.LoginAsync(member.Email, PanelAccounts.Password)).Location.ShouldBe("/panel");
            host.Clock.Advance(TimeSpan.FromDays(8));
            var login = await PanelClient.For(host).LoginAsync(member.Email, PanelAccounts.Password);
            login.Location.ShouldBe("/panel/password");

            var c2 = PanelClient.For(host);
            await c2.LoginAsync(member.Email, PanelAccounts.Password);
            (await c2.GetAsync($"/panel/apps/{app.Id}/segments")).Location.ShouldBe("/panel/password");
            (await c2.GetAsync("/panel/password")).Body.ShouldContain("has expired");
            var changed = await c2.PostFormAsync("/panel/password", new Dictionary<string, string>
                { ["current"] = PanelAccounts.Password, ["next"] = "Brand-New-Pass-77", ["repeat"] = "Brand-New-Pass-77" });
            changed.Location.ShouldBe("/panel");
            (await c2.GetAsync($"/panel/apps/{app.Id}/segments")).Status.ShouldBe(HttpStatusCode.OK);
            // A per-user setting beats the app's.
            await Accounts.SetUserExpiryAsync(owner, app.Id, member.Id, 3, "test", Ct);
            host.Clock.Advance(TimeSpan.FromDays(4));
            (await PanelClient.For(host).LoginAsync(member.Email, "Brand-New-Pass-77")).Location.ShouldBe("/panel/password");
        }
        finally
        {
            host.Clock.Set(start);
            // Installation owners belong to every app, so the strictest app rule binds them: leave none behind.
            await Accounts.SetAppSecurityAsync(owner, app.Id, null, false, "test", Ct);
        }
    }

    [Fact]
    public async Task A_member_away_30_days_must_change_the_password()
    {
        var start = host.Clock.GetUtcNow();
        try
        {
            var owner = await PanelAccounts.OwnerAsync(host);
            (await PanelClient.For(host).LoginAsync(owner.Email, PanelAccounts.Password)).Location.ShouldBe("/panel");
            host.Clock.Advance(TimeSpan.FromDays(29));
            (await PanelClient.For(host).LoginAsync(owner.Email, PanelAccounts.Password)).Location.ShouldBe("/panel");
            host.Clock.Advance(TimeSpan.FromDays(30) + TimeSpan.FromMinutes(1));
            var c = PanelClient.For(host);
            (await c.LoginAsync(owner.Email, PanelAccounts.Password)).Location.ShouldBe("/panel/password");
            (await c.GetAsync("/panel/password")).Body.ShouldContain("not used for 30 days");
            (await c.GetAsync("/panel")).Location.ShouldBe("/panel/password");
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task Sessions_end_after_30_idle_minutes_unless_kept_and_kept_ones_after_30_days()
    {
        var start = host.Clock.GetUtcNow();
        try
        {
            var owner = await PanelAccounts.OwnerAsync(host);
            var plain = PanelClient.For(host);
            var kept = PanelClient.For(host);
            await plain.LoginAsync(owner.Email, PanelAccounts.Password);
            await kept.LoginAsync(owner.Email, PanelAccounts.Password, keep: true);
            for (var i = 0; i < 3; i++)
            {
                host.Clock.Advance(TimeSpan.FromMinutes(25)); // activity inside the window slides it
                (await plain.GetAsync("/panel")).Status.ShouldBe(HttpStatusCode.OK);
            }
            host.Clock.Advance(TimeSpan.FromMinutes(31));
            (await plain.GetAsync("/panel")).Location!.ShouldStartWith("/panel/login");
            (await kept.GetAsync("/panel")).Status.ShouldBe(HttpStatusCode.OK);
            host.Clock.Advance(TimeSpan.FromDays(29)); // the 30-day "away" rule is about sign-ins, not an open session
            (await kept.GetAsync("/panel")).Status.ShouldBe(HttpStatusCode.OK);
            host.Clock.Advance(TimeSpan.FromDays(1));
            (await kept.GetAsync("/panel")).Location!.ShouldStartWith("/panel/login");
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task Five_failed_logins_lock_the_account_for_15_minutes()
    {
        var start = host.Clock.GetUtcNow();
        try
        {
            var owner = await PanelAccounts.OwnerAsync(host);
            var c = PanelClient.For(host);
            for (var i = 1; i <= 4; i++)
                (await c.LoginAsync(owner.Email, $"Wrong-password-{i}")).Body.ShouldContain("Email or password is wrong.");
            (await c.LoginAsync(owner.Email, "Wrong-password-5")).Body.ShouldContain("locked until");
            (await c.LoginAsync(owner.Email, PanelAccounts.Password)).Body.ShouldContain("locked until");
            host.Clock.Advance(TimeSpan.FromMinutes(14));
            (await c.LoginAsync(owner.Email, PanelAccounts.Password)).Body.ShouldContain("locked until");
            host.Clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
            (await c.LoginAsync(owner.Email, PanelAccounts.Password)).Location.ShouldBe("/panel");
            (await AuditAsync()).ShouldContain(a => a.UserId == owner.Id && a.Action == "login.locked");
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task A_viewer_is_refused_a_change_with_403_and_a_marketer_may_make_it()
    {
        var app = await host.NewAppAsync();
        var owner = await PanelAccounts.OwnerAsync(host);
        var viewer = await PanelAccounts.MemberAsync(host, app.Id, Roles.Viewer, owner);
        var marketer = await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer, owner);
        var form = new Dictionary<string, string> { ["name"] = "Everyone", ["rules"] = """{"not": {"device": "platform", "op": "eq", "value": "none"}}""" };

        var v = PanelClient.For(host);
        await v.LoginAsync(viewer.Email, PanelAccounts.Password);
        (await v.GetAsync($"/panel/apps/{app.Id}/segments")).Status.ShouldBe(HttpStatusCode.OK);
        var refused = await v.PostFormAsync($"/panel/apps/{app.Id}/segments/edit", form);
        refused.Status.ShouldBe(HttpStatusCode.Forbidden);
        refused.Body.ShouldContain("Your role in");
        (await AuditAsync()).ShouldContain(a => a.UserId == viewer.Id && a.Action == "refused" && a.AppId == app.Id);
        // Another app's pages do not exist for them.
        var other = await host.NewAppAsync();
        (await v.GetAsync($"/panel/apps/{other.Id}/segments")).Status.ShouldBe(HttpStatusCode.NotFound);

        var m = PanelClient.For(host);
        await m.LoginAsync(marketer.Email, PanelAccounts.Password);
        (await m.PostFormAsync($"/panel/apps/{app.Id}/segments/edit", form)).Location.ShouldBe($"/panel/apps/{app.Id}/segments");
        (await m.GetAsync($"/panel/apps/{app.Id}/segments")).Body.ShouldContain("Everyone");
        (await AuditAsync()).ShouldContain(a => a.UserId == marketer.Id && a.Action == "segment.create" && a.AppId == app.Id);
    }

    [Fact]
    public async Task A_form_without_the_antiforgery_token_is_refused()
    {
        var app = await host.NewAppAsync();
        var owner = await PanelAccounts.OwnerAsync(host);
        var c = PanelClient.For(host);
        await c.LoginAsync(owner.Email, PanelAccounts.Password);
        var forged = await c.PostFormAsync($"/panel/apps/{app.Id}/segments/edit",
            new Dictionary<string, string> { ["name"] = "x", ["rules"] = """{"device": "platform", "op": "eq", "value": "ios"}""" }, withToken: false);
        forged.Status.ShouldBe(HttpStatusCode.BadRequest);
        (await c.GetAsync($"/panel/apps/{app.Id}/segments")).Body.ShouldNotContain(">x<");
    }

    [Fact]
    public async Task Two_factor_codes_are_asked_for_once_enabled_and_required_apps_force_enrolment()
    {
        var app = await host.NewAppAsync();
        var owner = await PanelAccounts.OwnerAsync(host);
        var member = await PanelAccounts.MemberAsync(host, app.Id, Roles.Marketer, owner);
        await Accounts.SetAppSecurityAsync(owner, app.Id, null, requireTotp: true, "test", Ct);
        try
        {
            await TwoFactorAsync(app, member);
        }
        finally
        {
            // Installation owners belong to every app: leave no app requiring two-factor for the other tests.
            await Accounts.SetAppSecurityAsync(owner, app.Id, null, requireTotp: false, "test", Ct);
        }
    }

    private async Task TwoFactorAsync(TestApp app, PanelUser member)
    {
        var c = PanelClient.For(host);
        (await c.LoginAsync(member.Email, PanelAccounts.Password)).Location.ShouldBe("/panel/account/totp");
        (await c.GetAsync($"/panel/apps/{app.Id}/segments")).Location.ShouldBe("/panel/account/totp");

        var secret = await Accounts.BeginTotpEnrolmentAsync(member.Id, Ct);
        (await Accounts.ConfirmTotpAsync(member.Id, Totp.Code(Totp.FromBase32(secret), Totp.Step(host.Clock.GetUtcNow()) - 1), "test", Ct)).ShouldBeTrue();

        var c2 = PanelClient.For(host);
        (await c2.LoginAsync(member.Email, PanelAccounts.Password)).Location.ShouldBe("/panel/login/totp");
        (await c2.GetAsync("/panel")).Location.ShouldBe("/panel/login/totp");
        (await c2.PostFormAsync("/panel/login/totp", new Dictionary<string, string> { ["code"] = "000000" })).Body.ShouldContain("not right");
        var code = Totp.Code(Totp.FromBase32(secret), Totp.Step(host.Clock.GetUtcNow()));
        (await c2.PostFormAsync("/panel/login/totp", new Dictionary<string, string> { ["code"] = code })).Location.ShouldBe("/panel");
        (await c2.GetAsync($"/panel/apps/{app.Id}/segments")).Status.ShouldBe(HttpStatusCode.OK);
        // The same code cannot be replayed.
        var c3 = PanelClient.For(host);
        await c3.LoginAsync(member.Email, PanelAccounts.Password);
        (await c3.PostFormAsync("/panel/login/totp", new Dictionary<string, string> { ["code"] = code })).Body.ShouldContain("not right");
    }

    [Fact]
    public async Task Panel_responses_carry_security_headers_and_strict_cookies()
    {
        var owner = await PanelAccounts.OwnerAsync(host);
        var http = PanelClient.For(host).Http;
        using var page = await http.GetAsync("/panel/login", Ct);
        var csp = page.Headers.GetValues("Content-Security-Policy").Single();
        csp.ShouldContain("frame-ancestors 'none'");
        csp.ShouldContain("script-src 'self'");
        csp.ShouldNotContain("unsafe-inline");
        page.Headers.GetValues("X-Content-Type-Options").Single().ShouldBe("nosniff");
        page.Headers.GetValues("Referrer-Policy").Single().ShouldBe("same-origin");
        (await page.Content.ReadAsStringAsync(Ct)).ShouldNotContain("<script>");

        var token = System.Text.RegularExpressions.Regex.Match(await (await http.GetAsync("/panel/login", Ct)).Content.ReadAsStringAsync(Ct), "__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"").Groups[1].Value;
        using var login = await http.PostAsync("/panel/login", new FormUrlEncodedContent(new Dictionary<string, string>
            { ["email"] = owner.Email, ["password"] = PanelAccounts.Password, ["__RequestVerificationToken"] = token }), Ct);
        var cookie = login.Headers.GetValues("Set-Cookie").Single(v => v.StartsWith(PanelSession.CookieName, StringComparison.Ordinal)).ToLowerInvariant();
        cookie.ShouldContain("httponly");
        cookie.ShouldContain("samesite=strict");
        cookie.ShouldContain("path=/panel");
    }

    [Fact]
    public async Task Sign_in_attempts_are_rate_limited_per_address()
    {
        await using var node = host.NewNode(new Dictionary<string, string?> { ["Herald:Accounts:LoginAttemptsPerMinute"] = "3" });
        var c = new PanelClient(node.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false }));
        for (var i = 0; i < 3; i++)
            (await c.LoginAsync("nobody@example.com", "Whatever-123-abc")).Status.ShouldBe(HttpStatusCode.OK);
        (await c.LoginAsync("nobody@example.com", "Whatever-123-abc")).Status.ShouldBe(HttpStatusCode.TooManyRequests);
        (await c.GetAsync("/panel/login")).Status.ShouldBe(HttpStatusCode.OK); // reading the form is not limited
    }
}

[Collection(SqliteCollection.Name)]
public sealed class PanelSecurityTestsSqlite(SqliteHost host) : PanelSecurityTests(host);

[Collection(PostgresCollection.Name)]
public sealed class PanelSecurityTestsPostgres(PostgresHost host) : PanelSecurityTests(host);
