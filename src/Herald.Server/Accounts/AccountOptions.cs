using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Accounts;

/// <summary>Panel account security (R-PANEL-2), bound from <c>Herald:Accounts</c>.</summary>
public sealed class AccountOptions
{
    public const string Section = "Herald:Accounts";

    /// <summary>Default password lifetime; apps and users can shorten or lengthen it.</summary>
    [Range(typeof(TimeSpan), "1.00:00:00", "3650.00:00:00")]
    public TimeSpan PasswordExpiry { get; set; } = TimeSpan.FromDays(90);

    /// <summary>An account unused this long must change its password at the next sign-in.</summary>
    [Range(typeof(TimeSpan), "1.00:00:00", "3650.00:00:00")]
    public TimeSpan InactivityReset { get; set; } = TimeSpan.FromDays(30);

    /// <summary>A session without "keep me logged in" ends after this long without a request.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>"Keep me logged in" lasts until logout, but never longer than this.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "90.00:00:00")]
    public TimeSpan PersistentSession { get; set; } = TimeSpan.FromDays(30);

    [Range(1, 100)]
    public int LockoutThreshold { get; set; } = 5;

    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>A new password may not equal any of this many most recent ones.</summary>
    [Range(1, 24)]
    public int PasswordHistory { get; set; } = 5;

    /// <summary>Sign-in attempts (POSTs) per client address per minute, on top of the per-account lockout.</summary>
    [Range(1, 100_000)]
    public int LoginAttemptsPerMinute { get; set; } = 20;

    [Range(typeof(TimeSpan), "00:10:00", "30.00:00:00")]
    public TimeSpan InvitationLifetime { get; set; } = TimeSpan.FromDays(7);
}
