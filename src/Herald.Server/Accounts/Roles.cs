namespace Herald.Server.Accounts;

/// <summary>What a panel action needs; <see cref="Roles.Allows"/> is the one table deciding it.</summary>
public enum Permission
{
    View,
    EditAudience,
    Export,
    EditCampaigns,
    ApproveCampaigns,
    ManageApp,
    ManageTeam,
    ManageSecurity,
}

public static class Roles
{
    public const string Owner = "owner", Admin = "admin", Marketer = "marketer", Viewer = "viewer", Approver = "approver";

    /// <summary>Most to least powerful, as shown in pickers.</summary>
    public static readonly string[] All = [Owner, Admin, Marketer, Approver, Viewer];

    public static bool IsKnown(string? role) => role is not null && All.Contains(role);

    public static bool Allows(string? role, Permission p) => role switch
    {
        Owner => true,
        Admin => p is not Permission.ManageSecurity,
        Marketer => p is Permission.View or Permission.EditAudience or Permission.Export or Permission.EditCampaigns,
        Approver => p is Permission.View or Permission.ApproveCampaigns,
        Viewer => p is Permission.View,
        _ => false,
    };

    /// <summary>A member may grant roles up to their own (an admin cannot make owners).</summary>
    public static bool CanGrant(string granter, string role) =>
        granter == Owner || (granter == Admin && role is not Owner);

    public static string Describe(string role) => role switch
    {
        Owner => "Everything, including security settings and the audit log",
        Admin => "App settings, keys, credentials and team",
        Marketer => "Segments, campaigns and exports",
        Approver => "Reads everything and approves campaigns",
        Viewer => "Reads everything, changes nothing",
        _ => role,
    };
}
