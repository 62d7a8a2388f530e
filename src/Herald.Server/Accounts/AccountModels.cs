namespace Herald.Server.Accounts;

/// <summary>A team member as stored. Flags are 0/1 integers on both engines.</summary>
public sealed class PanelUser
{
    public long Id { get; init; }
    public string Email { get; init; } = "";
    public string? PasswordHash { get; init; }
    public long PasswordChangedAt { get; init; }
    public int? PasswordExpiryDays { get; init; }
    public int MustChangePassword { get; init; }
    public int Owner { get; init; }
    public int FailedLogins { get; init; }
    public long? LockedUntil { get; init; }
    public long? LastLoginAt { get; init; }
    public string? TotpSecret { get; init; }
    public int TotpEnabled { get; init; }
    public long? TotpLastStep { get; init; }
    public string SecurityStamp { get; init; } = "";
    public long CreatedAt { get; init; }
    public long? DisabledAt { get; init; }

    public bool IsOwner => Owner != 0;
    public bool HasTotp => TotpEnabled != 0 && TotpSecret is not null;
}

/// <summary>Why a password must be changed before anything else.</summary>
public static class ChangeReason
{
    public const int None = 0, OneTime = 1, Dormant = 2, Reset = 3;
}

/// <summary>Where a signed-in session stands: only <see cref="Full"/> reaches the panel.</summary>
public static class Stage
{
    public const string Totp = "totp", ChangePassword = "password", EnrollTotp = "enroll", Full = "full";
}

public enum SignInOutcome { Ok, Failed, Locked }

public sealed record SignInResult(SignInOutcome Outcome, PanelUser? User, string? Stage, DateTimeOffset? LockedUntil);

public sealed record MemberView(long UserId, string Email, bool Owner, string? Role, int? PasswordExpiryDays, bool TotpEnabled, long? LastLoginAt, bool Locked);

public sealed record InvitationView(long Id, string Email, long? AppId, string Role, long ExpiresAt, long? AcceptedAt);

public sealed record AppSecurity(long AppId, int? PasswordExpiryDays, bool RequireTotp);

/// <summary>A membership listed for the app switcher.</summary>
public sealed record AppAccess(long AppId, string Name, string Role);
