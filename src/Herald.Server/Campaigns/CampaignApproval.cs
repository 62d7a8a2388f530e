using System.Data.Common;
using Dapper;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Campaigns;

/// <summary>
/// The optional approval step (R-PANEL-2). When an app requires it, a campaign is sent or activated
/// only once a person allowed to approve (approver, admin or owner) other than whoever last changed
/// it has approved it. The approval is an entry of the campaign's history ("approved", state
/// unchanged); a later "edited" entry withdraws it, so what is approved is exactly what goes out.
/// </summary>
public sealed class CampaignApproval(Db db, TimeProvider clock)
{
    public const string Approved = "approved";
    private static readonly string[] Changes = ["created", "edited"];

    /// <summary>The "approved" entry that still stands, from a campaign's history in order.</summary>
    public static TransitionView? Current(IReadOnlyList<TransitionView> history)
    {
        for (var i = history.Count - 1; i >= 0; i--)
        {
            if (history[i].Reason == Approved) return history[i];
            if (Changes.Contains(history[i].Reason)) return null;
        }
        return null;
    }

    /// <summary>Records <paramref name="actor"/>'s approval of a draft; refuses one's own change and a second approval.</summary>
    public async Task ApproveAsync(long appId, long id, string actor, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var state = await conn.ExecuteScalarAsync<string?>(
            $"SELECT state FROM campaigns WHERE app_id = @appId AND id = @id{(db.IsPostgres ? " FOR UPDATE" : "")}", new { appId, id }, tx)
            ?? throw ProblemException.NotFound($"Campaign {id}");
        if (state != CampaignStates.Draft)
            throw new ProblemException(409, "Cannot approve", $"Campaign {id} is {state}; only a draft is approved.", "state");
        var last = await LastAsync(conn, tx, appId, id);
        if (last?.Reason == Approved)
            throw new ProblemException(409, "Already approved", $"Campaign {id} was approved by {last.Actor}; it needs no second approval.", "approval");
        if (last is not null && last.Actor == actor)
            throw new ProblemException(409, "Own change", $"You made the last change to campaign {id}; someone else who may approve (approver, admin or owner) must approve it.", "approval");
        await CampaignService.RecordAsync(conn, tx, appId, id, state, state, actor, Approved, clock.GetUtcNow().ToUnixTimeMilliseconds());
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// Inside the transaction that sends or activates (after the campaign row is locked, so an edit
    /// cannot slip in between): refuses with 409 unless the campaign stands approved.
    /// </summary>
    internal static async Task EnsureApprovedAsync(DbConnection conn, DbTransaction tx, long appId, long id)
    {
        if ((await LastAsync(conn, tx, appId, id))?.Reason != Approved)
            throw new ProblemException(409, "Approval required",
                $"This app requires an approval before a campaign goes out: campaign {id} is not approved since its last change. " +
                "An approver, admin or owner other than its last editor approves it on its review page in the panel.", "approval");
    }

    private sealed record Entry(string Actor, string? Reason);

    private static Task<Entry?> LastAsync(DbConnection conn, DbTransaction tx, long appId, long id) =>
        conn.QueryFirstOrDefaultAsync<Entry>(
            """
            SELECT actor AS Actor, reason AS Reason FROM campaign_transitions
            WHERE app_id = @appId AND campaign_id = @id AND reason IN ('created', 'edited', 'approved')
            ORDER BY seq DESC LIMIT 1
            """, new { appId, id }, tx);
}
