using System.Data.Common;
using System.Security.Cryptography;
using Dapper;
using Herald.Server.Apps;
using Herald.Server.Storage;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Herald.Server.Accounts;

/// <summary>
/// Panel team members: passwords (PBKDF2 via Identity's <see cref="PasswordHasher{TUser}"/>), expiry,
/// inactivity, lockout, TOTP, roles per app and invitations. Every time rule reads <see cref="TimeProvider"/>.
/// </summary>
public sealed class AccountService(Db db, AuditLog audit, AppService apps, IOptions<AccountOptions> options, TimeProvider clock)
{
    private const string Columns =
        """
        id AS Id, email AS Email, password_hash AS PasswordHash, password_changed_at AS PasswordChangedAt,
        password_expiry_days AS PasswordExpiryDays, must_change_password AS MustChangePassword, owner AS Owner,
        failed_logins AS FailedLogins, locked_until AS LockedUntil, last_login_at AS LastLoginAt, totp_secret AS TotpSecret,
        totp_enabled AS TotpEnabled, totp_last_step AS TotpLastStep, security_stamp AS SecurityStamp, created_at AS CreatedAt,
        disabled_at AS DisabledAt
        """;

    private static readonly PasswordHasher<PanelUser> Hasher = new();
    // Verified against when the email is unknown, so a wrong email costs the same time as a wrong password.
    private static readonly string DummyHash = Hasher.HashPassword(new PanelUser(), "not-a-password-" + Guid.NewGuid());

    private AccountOptions O => options.Value;
    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    public static string Normalize(string? email) => (email ?? "").Trim().ToLowerInvariant();

    public async Task<PanelUser?> FindAsync(long id, CancellationToken ct = default)
    {
        await using var conn = await db.OpenAsync(ct);
        return await conn.QueryFirstOrDefaultAsync<PanelUser>($"SELECT {Columns} FROM panel_users WHERE id = @id", new { id });
    }

    public async Task<PanelUser?> FindByEmailAsync(string email, CancellationToken ct = default)
    {
        await using var conn = await db.OpenAsync(ct);
        return await conn.QueryFirstOrDefaultAsync<PanelUser>($"SELECT {Columns} FROM panel_users WHERE email = @email", new { email = Normalize(email) });
    }

    /// <summary>The installation owner from the CLI: a new account, or an existing one promoted. Answers a one-time password.</summary>
    public async Task<(PanelUser User, string OneTimePassword)> CreateOwnerAsync(string email, CancellationToken ct = default)
    {
        email = Normalize(email);
        if (!email.Contains('@', StringComparison.Ordinal)) throw new ArgumentException($"'{email}' is not an email address.");
        var password = OneTimePassword();
        var hash = Hasher.HashPassword(new PanelUser(), password);
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync(
            """
            INSERT INTO panel_users (email, password_hash, password_changed_at, must_change_password, owner, security_stamp, created_at)
            VALUES (@email, @hash, @now, @oneTime, 1, @stamp, @now)
            ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at,
                must_change_password = excluded.must_change_password, owner = 1, security_stamp = excluded.security_stamp,
                failed_logins = 0, locked_until = NULL, disabled_at = NULL
            """, new { email, hash, now = Now, oneTime = ChangeReason.OneTime, stamp = NewStamp() });
        var user = (await FindByEmailAsync(email, ct))!;
        await audit.WriteAsync(null, "cli", null, "owner.create", email, "local", ct);
        return (user, password);
    }

    public async Task<SignInResult> SignInAsync(string? email, string? password, string? address, CancellationToken ct = default)
    {
        var user = await FindByEmailAsync(email ?? "", ct);
        var now = Now;
        if (user is null || user.PasswordHash is null || user.DisabledAt is not null)
        {
            Hasher.VerifyHashedPassword(new PanelUser(), DummyHash, password ?? "");
            await audit.WriteAsync(user?.Id, Normalize(email), null, "login.failed", "unknown or disabled account", address, ct);
            return new(SignInOutcome.Failed, null, null, null);
        }
        if (user.LockedUntil is { } until && until > now)
        {
            await audit.WriteAsync(user.Id, user.Email, null, "login.refused", "account locked", address, ct);
            return new(SignInOutcome.Locked, user, null, DateTimeOffset.FromUnixTimeMilliseconds(until));
        }
        if (Hasher.VerifyHashedPassword(user, user.PasswordHash, password ?? "") == PasswordVerificationResult.Failed)
            return await FailAsync(user, "wrong password", address, ct);

        // Dormancy is judged against the previous sign-in, before this one is recorded.
        var dormant = now - (user.LastLoginAt ?? user.CreatedAt) > (long)O.InactivityReset.TotalMilliseconds;
        await using (var conn = await db.OpenAsync(ct))
        {
            await conn.ExecuteAsync(
                """
                UPDATE panel_users SET failed_logins = 0, locked_until = NULL, last_login_at = @now,
                    must_change_password = CASE WHEN @dormant = 1 AND must_change_password = 0 THEN @reason ELSE must_change_password END
                WHERE id = @id
                """, new { now, id = user.Id, dormant = dormant ? 1 : 0, reason = ChangeReason.Dormant });
        }
        user = (await FindAsync(user.Id, ct))!;
        await audit.WriteAsync(user.Id, user.Email, null, "login.password", dormant ? "dormant account: password change required" : null, address, ct);
        return new(SignInOutcome.Ok, user, await NextStageAsync(user, totpDone: false, ct), null);
    }

    private async Task<SignInResult> FailAsync(PanelUser user, string why, string? address, CancellationToken ct)
    {
        var failed = user.FailedLogins + 1;
        long? lockedUntil = failed >= O.LockoutThreshold ? Now + (long)O.LockoutDuration.TotalMilliseconds : null;
        await using (var conn = await db.OpenAsync(ct))
            await conn.ExecuteAsync("UPDATE panel_users SET failed_logins = @failed, locked_until = @lockedUntil WHERE id = @id",
                new { failed = lockedUntil is null ? failed : 0, lockedUntil, id = user.Id });
        await audit.WriteAsync(user.Id, user.Email, null, lockedUntil is null ? "login.failed" : "login.locked",
            lockedUntil is null ? why : $"{why}; locked after {O.LockoutThreshold} failures", address, ct);
        return lockedUntil is null
            ? new(SignInOutcome.Failed, null, null, null)
            : new(SignInOutcome.Locked, user, null, DateTimeOffset.FromUnixTimeMilliseconds(lockedUntil.Value));
    }

    /// <summary>The second factor. Wrong codes count toward the lockout like wrong passwords.</summary>
    public async Task<SignInResult> VerifyTotpAsync(long userId, string? code, string? address, CancellationToken ct = default)
    {
        var user = await FindAsync(userId, ct) ?? throw new InvalidOperationException("No such user.");
        if (user.LockedUntil is { } until && until > Now)
            return new(SignInOutcome.Locked, user, null, DateTimeOffset.FromUnixTimeMilliseconds(until));
        var step = user.HasTotp ? Totp.Verify(Totp.FromBase32(user.TotpSecret!), code, clock.GetUtcNow(), user.TotpLastStep) : null;
        if (step is null) return await FailAsync(user, "wrong two-factor code", address, ct);
        await using (var conn = await db.OpenAsync(ct))
            await conn.ExecuteAsync("UPDATE panel_users SET totp_last_step = @step, failed_logins = 0 WHERE id = @id", new { step, id = userId });
        await audit.WriteAsync(user.Id, user.Email, null, "login.totp", null, address, ct);
        return new(SignInOutcome.Ok, user, await NextStageAsync(user, totpDone: true, ct), null);
    }

    /// <summary>What the user must do next: second factor, then a forced password change, then TOTP enrolment.</summary>
    public async Task<string> NextStageAsync(PanelUser user, bool totpDone, CancellationToken ct = default)
    {
        if (user.HasTotp && !totpDone) return Stage.Totp;
        if (user.MustChangePassword != ChangeReason.None || await IsExpiredAsync(user, ct)) return Stage.ChangePassword;
        if (!user.HasTotp && await RequiresTotpAsync(user, ct)) return Stage.EnrollTotp;
        return Stage.Full;
    }

    /// <summary>The password lifetime in days: the user's own setting, else the strictest of their apps, else the default.</summary>
    public async Task<int> ExpiryDaysAsync(PanelUser user, CancellationToken ct = default)
    {
        if (user.PasswordExpiryDays is { } own) return own;
        await using var conn = await db.OpenAsync(ct);
        var strictest = await conn.ExecuteScalarAsync<int?>(
            user.IsOwner
                ? "SELECT min(password_expiry_days) FROM panel_app_security"
                : "SELECT min(s.password_expiry_days) FROM panel_app_security s JOIN panel_memberships m ON m.app_id = s.app_id WHERE m.user_id = @id",
            new { id = user.Id });
        return strictest ?? (int)O.PasswordExpiry.TotalDays;
    }

    public async Task<bool> IsExpiredAsync(PanelUser user, CancellationToken ct = default) =>
        Now - user.PasswordChangedAt > (await ExpiryDaysAsync(user, ct)) * 86_400_000L;

    private async Task<bool> RequiresTotpAsync(PanelUser user, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        return await conn.ExecuteScalarAsync<long>(
            user.IsOwner
                ? "SELECT count(*) FROM panel_app_security WHERE require_totp = 1"
                : "SELECT count(*) FROM panel_app_security s JOIN panel_memberships m ON m.app_id = s.app_id WHERE m.user_id = @id AND s.require_totp = 1",
            new { id = user.Id }) > 0;
    }

    /// <summary>Changes the password after proving the current one; answers the problems, empty when done.</summary>
    public async Task<IReadOnlyList<string>> ChangePasswordAsync(long userId, string? current, string? next, string? address, CancellationToken ct = default)
    {
        var user = await FindAsync(userId, ct) ?? throw new InvalidOperationException("No such user.");
        if (user.PasswordHash is null || Hasher.VerifyHashedPassword(user, user.PasswordHash, current ?? "") == PasswordVerificationResult.Failed)
            return ["The current password is wrong."];
        var errors = PasswordRules.Check(next, user.Email).ToList();
        if (errors.Count == 0 && await WasRecentlyUsedAsync(user, next!, ct))
            errors.Add($"Choose a password you have not used for your last {O.PasswordHistory} changes.");
        if (errors.Count > 0) return errors;
        await SetPasswordAsync(user.Id, next!, ct);
        await audit.WriteAsync(user.Id, user.Email, null, "password.change", user.MustChangePassword != 0 ? "required change" : null, address, ct);
        return [];
    }

    private async Task<bool> WasRecentlyUsedAsync(PanelUser user, string password, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var recent = await conn.QueryAsync<string>(
            "SELECT password_hash FROM panel_password_history WHERE user_id = @id ORDER BY id DESC LIMIT @n", new { id = user.Id, n = O.PasswordHistory });
        return recent.Append(user.PasswordHash ?? "").Where(h => h.Length > 0)
            .Any(h => Hasher.VerifyHashedPassword(user, h, password) != PasswordVerificationResult.Failed);
    }

    private async Task SetPasswordAsync(long userId, string password, CancellationToken ct, DbConnection? existing = null, DbTransaction? tx = null)
    {
        var hash = Hasher.HashPassword(new PanelUser(), password);
        var conn = existing ?? await db.OpenAsync(ct);
        try
        {
            await conn.ExecuteAsync(
                """
                UPDATE panel_users SET password_hash = @hash, password_changed_at = @now, must_change_password = 0, security_stamp = @stamp WHERE id = @userId;
                INSERT INTO panel_password_history (user_id, password_hash, changed_at) VALUES (@userId, @hash, @now);
                """, new { hash, now = Now, stamp = NewStamp(), userId }, tx);
        }
        finally
        {
            if (existing is null) await conn.DisposeAsync();
        }
    }

    public async Task<string> BeginTotpEnrolmentAsync(long userId, CancellationToken ct = default)
    {
        var secret = Totp.ToBase32(Totp.NewSecret());
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync("UPDATE panel_users SET totp_secret = @secret, totp_enabled = 0 WHERE id = @userId", new { secret, userId });
        return secret;
    }

    public async Task<bool> ConfirmTotpAsync(long userId, string? code, string? address, CancellationToken ct = default)
    {
        var user = await FindAsync(userId, ct);
        if (user?.TotpSecret is null) return false;
        var step = Totp.Verify(Totp.FromBase32(user.TotpSecret), code, clock.GetUtcNow(), user.TotpLastStep);
        if (step is null) return false;
        await using (var conn = await db.OpenAsync(ct))
            await conn.ExecuteAsync("UPDATE panel_users SET totp_enabled = 1, totp_last_step = @step WHERE id = @userId", new { step, userId });
        await audit.WriteAsync(user.Id, user.Email, null, "totp.enable", null, address, ct);
        return true;
    }

    public async Task DisableTotpAsync(long userId, string? address, CancellationToken ct = default)
    {
        var user = await FindAsync(userId, ct) ?? throw new InvalidOperationException("No such user.");
        await using (var conn = await db.OpenAsync(ct))
            await conn.ExecuteAsync("UPDATE panel_users SET totp_enabled = 0, totp_secret = NULL, totp_last_step = NULL WHERE id = @userId", new { userId });
        await audit.WriteAsync(user.Id, user.Email, null, "totp.disable", null, address, ct);
    }

    /// <summary>The user's role in an app: owners of the installation are owners everywhere.</summary>
    public async Task<string?> RoleAsync(PanelUser user, long appId, CancellationToken ct = default)
    {
        if (user.IsOwner) return Roles.Owner;
        await using var conn = await db.OpenAsync(ct);
        return await conn.ExecuteScalarAsync<string?>("SELECT role FROM panel_memberships WHERE user_id = @id AND app_id = @appId", new { id = user.Id, appId });
    }

    public async Task<IReadOnlyList<AppAccess>> AppsAsync(PanelUser user, CancellationToken ct = default)
    {
        var all = await apps.ListAsync(ct);
        if (user.IsOwner) return all.Select(a => new AppAccess(a.Id, a.Name, Roles.Owner)).ToList();
        await using var conn = await db.OpenAsync(ct);
        var roles = (await conn.QueryAsync<(long AppId, string Role)>("SELECT app_id, role FROM panel_memberships WHERE user_id = @id", new { id = user.Id }))
            .ToDictionary(r => r.AppId, r => r.Role);
        return all.Where(a => roles.ContainsKey(a.Id)).Select(a => new AppAccess(a.Id, a.Name, roles[a.Id])).ToList();
    }

    /// <summary>Members of one app (installation owners included), or every account when <paramref name="appId"/> is null.</summary>
    public async Task<IReadOnlyList<MemberView>> MembersAsync(long? appId, CancellationToken ct = default)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<(long Id, string Email, int Owner, string? Role, int? Expiry, int Totp, long? LastLogin, long? LockedUntil)>(
            """
            SELECT u.id, u.email, u.owner, m.role, u.password_expiry_days, u.totp_enabled, u.last_login_at, u.locked_until
            FROM panel_users u LEFT JOIN panel_memberships m ON m.user_id = u.id AND m.app_id = @appId
            WHERE u.disabled_at IS NULL AND (u.owner = 1 OR m.role IS NOT NULL OR @all = 1)
            ORDER BY u.email
            """, new { appId = appId ?? 0, all = appId is null ? 1 : 0 });
        var now = Now;
        return rows.Select(r => new MemberView(r.Id, r.Email, r.Owner != 0, r.Owner != 0 ? Roles.Owner : r.Role, r.Expiry, r.Totp != 0, r.LastLogin, r.LockedUntil > now)).ToList();
    }

    public async Task SetRoleAsync(PanelUser actor, long appId, long userId, string? role, string? address, CancellationToken ct = default)
    {
        await using (var conn = await db.OpenAsync(ct))
        {
            if (role is null)
                await conn.ExecuteAsync("DELETE FROM panel_memberships WHERE user_id = @userId AND app_id = @appId", new { userId, appId });
            else
                await conn.ExecuteAsync(
                    "INSERT INTO panel_memberships (user_id, app_id, role) VALUES (@userId, @appId, @role) ON CONFLICT (user_id, app_id) DO UPDATE SET role = excluded.role",
                    new { userId, appId, role });
        }
        var target = await FindAsync(userId, ct);
        await audit.WriteAsync(actor.Id, actor.Email, appId, role is null ? "member.remove" : "member.role", $"{target?.Email}: {role ?? "removed"}", address, ct);
    }

    public async Task SetUserExpiryAsync(PanelUser actor, long? appId, long userId, int? days, string? address, CancellationToken ct = default)
    {
        await using (var conn = await db.OpenAsync(ct))
            await conn.ExecuteAsync("UPDATE panel_users SET password_expiry_days = @days WHERE id = @userId", new { days, userId });
        var target = await FindAsync(userId, ct);
        await audit.WriteAsync(actor.Id, actor.Email, appId, "member.expiry", $"{target?.Email}: {days?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"} days", address, ct);
    }

    public async Task UnlockAsync(PanelUser actor, long? appId, long userId, string? address, CancellationToken ct = default)
    {
        await using (var conn = await db.OpenAsync(ct))
            await conn.ExecuteAsync("UPDATE panel_users SET locked_until = NULL, failed_logins = 0 WHERE id = @userId", new { userId });
        var target = await FindAsync(userId, ct);
        await audit.WriteAsync(actor.Id, actor.Email, appId, "member.unlock", target?.Email, address, ct);
    }

    public async Task<AppSecurity> AppSecurityAsync(long appId, CancellationToken ct = default)
    {
        await using var conn = await db.OpenAsync(ct);
        var row = await conn.QueryFirstOrDefaultAsync<(int? Expiry, int Totp)?>(
            "SELECT password_expiry_days, require_totp FROM panel_app_security WHERE app_id = @appId", new { appId });
        return new AppSecurity(appId, row?.Expiry, row is { Totp: not 0 });
    }

    public async Task SetAppSecurityAsync(PanelUser actor, long appId, int? expiryDays, bool requireTotp, string? address, CancellationToken ct = default)
    {
        await using (var conn = await db.OpenAsync(ct))
            await conn.ExecuteAsync(
                """
                INSERT INTO panel_app_security (app_id, password_expiry_days, require_totp) VALUES (@appId, @expiryDays, @totp)
                ON CONFLICT (app_id) DO UPDATE SET password_expiry_days = excluded.password_expiry_days, require_totp = excluded.require_totp
                """, new { appId, expiryDays, totp = requireTotp ? 1 : 0 });
        await audit.WriteAsync(actor.Id, actor.Email, appId, "app.security",
            $"password expiry {expiryDays?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"} days, two-factor {(requireTotp ? "required" : "optional")}", address, ct);
    }

    /// <summary>
    /// Invites an email to an app with a role. An existing account gets the role at once (null token);
    /// otherwise the answer is a one-time link token, shown once: Herald keeps only its hash.
    /// </summary>
    public async Task<string?> InviteAsync(PanelUser actor, long appId, string email, string role, string? address, CancellationToken ct = default)
    {
        email = Normalize(email);
        var existing = await FindByEmailAsync(email, ct);
        if (existing is not null)
        {
            await SetRoleAsync(actor, appId, existing.Id, role, address, ct);
            return null;
        }
        var token = Base64Url(RandomNumberGenerator.GetBytes(24));
        await using (var conn = await db.OpenAsync(ct))
            await conn.ExecuteAsync(
                """
                INSERT INTO panel_invitations (token_hash, email, app_id, role, invited_by, created_at, expires_at)
                VALUES (@hash, @email, @appId, @role, @by, @now, @expires)
                """, new { hash = Hash(token), email, appId, role, by = actor.Id, now = Now, expires = Now + (long)O.InvitationLifetime.TotalMilliseconds });
        await audit.WriteAsync(actor.Id, actor.Email, appId, "member.invite", $"{email} as {role}", address, ct);
        return token;
    }

    public async Task<IReadOnlyList<InvitationView>> PendingInvitationsAsync(long appId, CancellationToken ct = default)
    {
        await using var conn = await db.OpenAsync(ct);
        return (await conn.QueryAsync<InvitationView>(
            """
            SELECT id AS Id, email AS Email, app_id AS AppId, role AS Role, expires_at AS ExpiresAt, accepted_at AS AcceptedAt
            FROM panel_invitations WHERE app_id = @appId AND accepted_at IS NULL AND expires_at > @now ORDER BY id DESC
            """, new { appId, now = Now })).ToList();
    }

    public async Task<InvitationView?> InvitationAsync(string token, CancellationToken ct = default)
    {
        await using var conn = await db.OpenAsync(ct);
        return await conn.QueryFirstOrDefaultAsync<InvitationView>(
            """
            SELECT id AS Id, email AS Email, app_id AS AppId, role AS Role, expires_at AS ExpiresAt, accepted_at AS AcceptedAt
            FROM panel_invitations WHERE token_hash = @hash AND accepted_at IS NULL AND expires_at > @now
            """, new { hash = Hash(token), now = Now });
    }

    /// <summary>Creates the invited account with its first password; answers the problems, empty when done.</summary>
    public async Task<IReadOnlyList<string>> AcceptInvitationAsync(string token, string? password, string? address, CancellationToken ct = default)
    {
        var invitation = await InvitationAsync(token, ct);
        if (invitation is null) return ["This invitation link is not valid any more. Ask for a new one."];
        var errors = PasswordRules.Check(password, invitation.Email);
        if (errors.Count > 0) return errors;
        await using (var conn = await db.OpenAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            var claimed = await conn.ExecuteAsync("UPDATE panel_invitations SET accepted_at = @now WHERE id = @id AND accepted_at IS NULL",
                new { now = Now, id = invitation.Id }, tx);
            if (claimed == 0) return ["This invitation was already used."];
            var userId = await conn.ExecuteScalarAsync<long>(
                """
                INSERT INTO panel_users (email, password_changed_at, security_stamp, created_at) VALUES (@email, @now, @stamp, @now)
                ON CONFLICT (email) DO UPDATE SET email = excluded.email RETURNING id
                """, new { email = invitation.Email, now = Now, stamp = NewStamp() }, tx);
            await SetPasswordAsync(userId, password!, ct, conn, tx);
            await conn.ExecuteAsync(
                "INSERT INTO panel_memberships (user_id, app_id, role) VALUES (@userId, @appId, @role) ON CONFLICT (user_id, app_id) DO UPDATE SET role = excluded.role",
                new { userId, appId = invitation.AppId, role = invitation.Role }, tx);
            await tx.CommitAsync(ct);
            await audit.WriteAsync(userId, invitation.Email, invitation.AppId, "member.join", invitation.Role, address, ct);
        }
        return [];
    }

    public Task AuditAsync(PanelUser actor, long? appId, string action, string? detail, string? address, CancellationToken ct = default) =>
        audit.WriteAsync(actor.Id, actor.Email, appId, action, detail, address, ct);

    public async Task SignedOutAsync(PanelUser user, string why, string? address, CancellationToken ct = default) =>
        await audit.WriteAsync(user.Id, user.Email, null, "logout", why, address, ct);

    private static string OneTimePassword()
    {
        // 4 groups of 5 from an unambiguous alphabet: ~100 bits, passes the strength rules.
        const string chars = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        var groups = Enumerable.Range(0, 4).Select(_ => new string(RandomNumberGenerator.GetItems<char>(chars, 5)));
        return string.Join('-', groups) + "-" + RandomNumberGenerator.GetInt32(10, 99).ToString(System.Globalization.CultureInfo.InvariantCulture) + "Aa";
    }

    private static string NewStamp() => Base64Url(RandomNumberGenerator.GetBytes(16));

    private static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));

    private static string Base64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}
