using System.Globalization;

namespace Herald.Server.Campaigns;

/// <summary>
/// A ledger row's message id: "{campaign}-{recipient}". It is the collapse key a resend carries, and
/// the SDK reports it back with opens, dismisses and receipts; because it spells the row's key, those
/// events find their row by primary key and the ledger needs no index on message ids (one fewer index
/// to write per planned and per sent message).
/// </summary>
public static class LedgerMessageId
{
    public static string Format(long campaignId, int recipient) =>
        string.Create(CultureInfo.InvariantCulture, $"{campaignId}-{recipient}");

    public static bool TryParse(string? messageId, out long campaignId, out int recipient)
    {
        campaignId = 0;
        recipient = 0;
        if (messageId is null) return false;
        var dash = messageId.IndexOf('-', StringComparison.Ordinal);
        return dash > 0
            && long.TryParse(messageId.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out campaignId)
            && int.TryParse(messageId.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out recipient);
    }
}
