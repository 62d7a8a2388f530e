using Dapper;
using Herald.Server.Ingest;
using Herald.Server.Storage;

namespace Herald.Server.Campaigns;

/// <summary>
/// Reads SDK events that name a campaign message (<c>message_id</c> attribute: push_opened,
/// push_clicked, push_dismissed, widget / button actions) back onto the ledger, so the live report
/// shows opens (click-through), dismisses and — any event within the conversion window after an
/// open — conversions and revenue.
/// </summary>
public sealed class CampaignAttribution(Db db) : IIngestObserver
{
    public static readonly TimeSpan ConversionWindow = TimeSpan.FromDays(1);
    private static readonly HashSet<string> Opens = [BuiltInEvents.PushOpened, BuiltInEvents.PushClicked, BuiltInEvents.ButtonClicked];

    public async Task OnCommittedAsync(IReadOnlyList<StoredEvent> events)
    {
        var opens = new List<object>();
        var dismisses = new List<object>();
        foreach (var e in events)
        {
            if (!LedgerMessageId.TryParse(e.MessageRef, out var campaign, out var recipient)) continue;
            var row = new { e.AppId, campaign, recipient, messageId = e.MessageRef, at = e.OccurredAt };
            if (Opens.Contains(e.Name)) opens.Add(row);
            else if (e.Name == BuiltInEvents.PushDismissed) dismisses.Add(row);
        }
        var revenue = events.Where(e => e.Revenue is not null && e.UserOrdinal is not null).ToList();
        if (opens.Count == 0 && dismisses.Count == 0 && revenue.Count == 0) return;
        await using var conn = await db.OpenAsync();
        await using var tx = await conn.BeginTransactionAsync();
        // A queued row is in flight (reported before its chunk recorded "sent", which then keeps this).
        if (opens.Count > 0)
            await conn.ExecuteAsync(
                "UPDATE deliveries SET opened_at = COALESCE(opened_at, @at), state = CASE WHEN state IN ('sent', 'delivered', 'queued') THEN 'opened' ELSE state END WHERE app_id = @AppId AND campaign_id = @campaign AND recipient = @recipient AND message_id = @messageId",
                opens, tx);
        if (dismisses.Count > 0)
            await conn.ExecuteAsync(
                "UPDATE deliveries SET dismissed_at = COALESCE(dismissed_at, @at), state = CASE WHEN state IN ('sent', 'delivered', 'queued') THEN 'dismissed' ELSE state END WHERE app_id = @AppId AND campaign_id = @campaign AND recipient = @recipient AND message_id = @messageId",
                dismisses, tx);
        // A purchase within the window after an open converts the most recent opened message of that user.
        foreach (var e in revenue)
            await conn.ExecuteAsync(
                """
                UPDATE deliveries SET converted_at = @at, revenue = COALESCE(revenue, 0) + @amount
                WHERE app_id = @app AND user_ordinal = @user AND opened_at IS NOT NULL AND opened_at <= @at AND opened_at >= @since
                  AND campaign_id = (SELECT campaign_id FROM deliveries WHERE app_id = @app AND user_ordinal = @user AND opened_at IS NOT NULL
                                     AND opened_at <= @at AND opened_at >= @since ORDER BY opened_at DESC LIMIT 1)
                """, new { app = e.AppId, user = e.UserOrdinal, at = e.OccurredAt, since = e.OccurredAt - (long)ConversionWindow.TotalMilliseconds, amount = e.Revenue }, tx);
        await LiftAsync(conn, tx, revenue);
        await tx.CommitAsync();
    }

    /// <summary>
    /// A/B control groups: a purchase within the window after the send counts for the test cohort's
    /// rows and, after the time they would have been sent, for the control group's — opened or not,
    /// so both sides are measured alike and the difference is the message's lift.
    /// </summary>
    private async Task LiftAsync(System.Data.Common.DbConnection conn, System.Data.Common.DbTransaction tx, List<StoredEvent> purchases)
    {
        if (purchases.Count == 0) return;
        var apps = purchases.Select(e => e.AppId).Distinct().ToArray();
        var withControl = (await conn.QueryAsync<long>(
            $"SELECT DISTINCT app_id FROM campaign_ab_tests WHERE control_share > 0 AND {db.In("app_id", "apps")}", new { apps }, tx)).ToHashSet();
        foreach (var e in purchases.Where(e => withControl.Contains(e.AppId)))
        {
            var args = new { app = e.AppId, user = e.UserOrdinal, at = e.OccurredAt, since = e.OccurredAt - (long)ConversionWindow.TotalMilliseconds };
            await conn.ExecuteAsync(
                """
                UPDATE deliveries SET lift_converted_at = @at
                WHERE app_id = @app AND user_ordinal = @user AND variant = -2 AND lift_converted_at IS NULL AND due_at <= @at AND due_at >= @since
                  AND campaign_id IN (SELECT campaign_id FROM campaign_ab_tests WHERE app_id = @app AND control_share > 0)
                """, args, tx);
            await conn.ExecuteAsync(
                """
                UPDATE deliveries SET lift_converted_at = @at
                WHERE app_id = @app AND user_ordinal = @user AND sent_at IS NOT NULL AND sent_at <= @at AND sent_at >= @since
                  AND variant >= 0 AND ab_rollout = 0 AND lift_converted_at IS NULL
                  AND campaign_id IN (SELECT campaign_id FROM campaign_ab_tests WHERE app_id = @app AND control_share > 0)
                """, args, tx);
        }
    }
}
