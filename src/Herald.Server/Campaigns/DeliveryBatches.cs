using System.Data.Common;
using System.Text.Json;
using Dapper;
using Herald.Server.Storage;

namespace Herald.Server.Campaigns;

/// <summary>
/// The send queue (DESIGN "Campaigns and delivery"): batches of a campaign's queued ledger rows that
/// are due at the same time, up to a chunk each. The ledger rows stay the truth of each message; a
/// dispatcher claims a batch (PostgreSQL: a row lock held by the chunk's transaction; SQLite: a lease
/// with the claimant's token) and deletes it in the transaction that records the outcomes. A batch
/// names rows that are queued or held when it is written; a row cancelled since is passed over.
/// </summary>
internal static class DeliveryBatches
{
    /// <summary>A batch waiting for its time (or, when held, for an A/B test's winner).</summary>
    internal readonly record struct Pending(long Due, bool Held, int Recipient);

    /// <summary>Writes the batches of one campaign's queued and held recipients, grouped by due time.</summary>
    public static async Task InsertAsync(Db db, DbConnection conn, DbTransaction tx, long appId, long campaignId, int priority,
        IEnumerable<Pending> pending, int chunk)
    {
        var batches = new List<(long Due, bool Held, int[] Recipients)>();
        foreach (var group in pending.GroupBy(p => (p.Due, p.Held)))
            foreach (var part in group.Select(p => p.Recipient).Chunk(chunk))
                batches.Add((group.Key.Due, group.Key.Held, part));
        if (batches.Count == 0) return;
        if (db.IsPostgres)
        {
            // Arrays of arrays do not unnest into rows: the recipients go as one flat array with each batch's length.
            await conn.ExecuteAsync(
                """
                INSERT INTO delivery_batches (app_id, campaign_id, priority, due_at, held, recipients)
                SELECT @appId, @campaignId, @priority, b.due, b.held, (@flat)[b.start + 1 : b.start + b.len]
                FROM unnest(@dues, @helds, @starts, @lens) AS b(due, held, start, len)
                """,
                new
                {
                    appId, campaignId, priority,
                    dues = batches.Select(b => b.Due).ToArray(), helds = batches.Select(b => b.Held).ToArray(),
                    starts = Starts(batches), lens = batches.Select(b => b.Recipients.Length).ToArray(),
                    flat = batches.SelectMany(b => b.Recipients).ToArray(),
                }, tx);
            return;
        }
        await conn.ExecuteAsync(
            "INSERT INTO delivery_batches (app_id, campaign_id, priority, due_at, held, recipients) VALUES (@appId, @campaignId, @priority, @Due, @Held, @Recipients)",
            batches.Select(b => new { appId, campaignId, priority, b.Due, b.Held, Recipients = JsonSerializer.Serialize(b.Recipients) }), tx);
    }

    private static int[] Starts(List<(long Due, bool Held, int[] Recipients)> batches)
    {
        var starts = new int[batches.Count];
        for (int i = 0, at = 0; i < batches.Count; at += batches[i].Recipients.Length, i++) starts[i] = at;
        return starts;
    }

    /// <summary>
    /// Writes a campaign's batches anew from its queued and held ledger rows (a campaign planned again
    /// while scheduled: rows planned before keep their time).
    /// </summary>
    public static async Task RebuildAsync(Db db, DbConnection conn, DbTransaction tx, long appId, long campaignId, int priority, int chunk)
    {
        await conn.ExecuteAsync("DELETE FROM delivery_batches WHERE app_id = @appId AND campaign_id = @campaignId", new { appId, campaignId }, tx);
        var rows = await conn.QueryAsync<(long Due, string State, int Recipient)>(
            "SELECT due_at, state, recipient FROM deliveries WHERE app_id = @appId AND campaign_id = @campaignId AND state IN ('queued', 'held') ORDER BY recipient",
            new { appId, campaignId }, tx);
        await InsertAsync(db, conn, tx, appId, campaignId, priority, rows.Select(r => new Pending(r.Due, r.State == DeliveryStates.Held, r.Recipient)), chunk);
    }

    /// <summary>True while anything of the campaign is still to send (queued, in flight or held).</summary>
    public static async Task<bool> AnyAsync(DbConnection conn, DbTransaction? tx, long appId, long campaignId) =>
        await conn.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM (SELECT 1 FROM delivery_batches WHERE app_id = @appId AND campaign_id = @campaignId LIMIT 1) o",
            new { appId, campaignId }, tx) > 0;

    /// <summary>An A/B test's held batches become due (no earlier than now).</summary>
    public static Task ReleaseHeldAsync(DbConnection conn, DbTransaction tx, long appId, long campaignId, long now) =>
        conn.ExecuteAsync(
            "UPDATE delivery_batches SET held = @no, due_at = CASE WHEN due_at < @now THEN @now ELSE due_at END WHERE app_id = @appId AND campaign_id = @campaignId AND held",
            new { appId, campaignId, now, no = false }, tx);

    public static int[] ParseRecipients(object value) => value switch
    {
        int[] a => a,
        string s => JsonSerializer.Deserialize<int[]>(s) ?? [],
        _ => throw new InvalidOperationException($"batch recipients of type {value.GetType()}"),
    };
}
