using Herald.Server.Accounts;

namespace Herald.Server.Panel;

/// <summary>The app side navigation: only built pages, and only those the member's role may open.</summary>
public static class PanelNav
{
    public static IEnumerable<(string Key, string Label)> Items(PanelPage p)
    {
        yield return ("segments", "Segments");
        yield return ("users", "Users & devices");
        yield return ("analytics", "Analytics");
        yield return ("predictions", "Predictions");
        yield return ("exports", "Exports");
        yield return ("campaigns", "Campaigns");
        yield return ("catalog", "Catalog");
        yield return ("widgets", "Widgets");
        yield return ("geofences", "Geofences");
        yield return ("alerts", "Alerts");
        yield return ("team", "Team");
        yield return ("settings", "Settings");
        if (p.Can(Permission.ManageSecurity)) yield return ("audit", "Audit log");
    }
}
