using Herald.Server.Accounts;

namespace Herald.Server.Panel;

public static class StagePages
{
    /// <summary>Where a session in <paramref name="stage"/> goes next; only local return URLs are honoured.</summary>
    public static string For(string stage, string? returnUrl = null) => stage switch
    {
        Stage.Totp => "/panel/login/totp",
        Stage.ChangePassword => "/panel/password",
        Stage.EnrollTotp => "/panel/account/totp",
        _ => returnUrl is { Length: > 1 } r && r.StartsWith("/panel", StringComparison.Ordinal) && !r.StartsWith("//", StringComparison.Ordinal) ? r : "/panel",
    };
}
