using Dapper;
using Herald.Server.Ingest;
using Herald.Server.Storage;

namespace Herald.Server.Campaigns;

/// <summary>
/// Delivery receipts: an SDK's <c>push_received</c> event naming a campaign message moves its ledger
/// row from sent to delivered — what the fallback's receipt window waits for (R-MSG-8).
/// </summary>
public sealed class PushReceipts(Db db) : IIngestObserver
{
    public async Task OnCommittedAsync(IReadOnlyList<StoredEvent> events)
    {
        var receipts = new List<object>();
        foreach (var e in events)
            if (e.Name == BuiltInEvents.PushReceived && LedgerMessageId.TryParse(e.MessageRef, out var campaign, out var recipient))
                receipts.Add(new { e.AppId, campaign, recipient, messageId = e.MessageRef });
        if (receipts.Count == 0) return;
        await using var conn = await db.OpenAsync();
        await using var tx = await conn.BeginTransactionAsync();
        // A row still queued is in flight: the device can report it before the sending chunk records
        // "sent", which then keeps the delivery.
        await conn.ExecuteAsync("UPDATE deliveries SET state = 'delivered' WHERE app_id = @AppId AND campaign_id = @campaign AND recipient = @recipient AND message_id = @messageId AND state IN ('sent', 'queued')", receipts, tx);
        await tx.CommitAsync();
    }
}
