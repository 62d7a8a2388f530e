using Dapper;
using Herald.Gateways;
using Herald.Server.Delivery;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Campaigns;

public sealed record RecallResult(long CampaignId, int Requested, int Sent, int Failed, IReadOnlyDictionary<string, int> FailedByReason, string Note);

/// <summary>
/// Recall (R-MSG-10): a silent command push to every device a mobile message reached; the SDK removes
/// the notification it shows for that message id (PROTOCOLS.md "Mobile recall"). Web push, email and
/// SMS cannot be taken back, and recall says so instead of pretending.
/// </summary>
public sealed class CampaignRecall(Db db, CampaignService campaigns, GatewayRegistry gateways, TimeProvider clock)
{
    public const string Note = "Recall sent, not guaranteed: Android removes the notification when the device receives the command; iOS delivers background pushes on a best-effort basis and may delay or drop them.";

    private sealed class Row
    {
        public int Recipient { get; init; }
        public string MessageId { get; init; } = "";
        public string Platform { get; init; } = "";
        public string? PushToken { get; init; }
    }

    public async Task<RecallResult> RecallAsync(long appId, long campaignId, string actor, string? reason, CancellationToken ct)
    {
        var campaign = await campaigns.GetAsync(appId, campaignId, ct) ?? throw ProblemException.NotFound($"Campaign {campaignId}");
        switch (campaign.Channel)
        {
            case CampaignChannels.WebPush:
                throw new ProblemException(409, "Web push cannot be recalled",
                    "A delivered web notification belongs to the browser's push service and can only be closed by the site's own service worker; browsers also require every push to show something, so there is no silent recall.", "channel");
            case CampaignChannels.Email or CampaignChannels.Sms:
                throw new ProblemException(409, "Cannot be recalled", $"A delivered {campaign.Channel} message cannot be taken back.", "channel");
        }
        if (campaign.State is not (CampaignStates.Sent or CampaignStates.Sending or CampaignStates.Stopped))
            throw new ProblemException(409, "Nothing to recall", $"Campaign {campaignId} is {campaign.State}; only sent (or stopped) campaigns can be recalled.", "state");

        List<Row> rows;
        await using (var conn = await db.OpenAsync(ct))
        {
            rows = (await conn.QueryAsync<Row>(
                """
                SELECT l.recipient AS Recipient, l.message_id AS MessageId, d.platform AS Platform, d.push_token AS PushToken
                FROM deliveries l JOIN devices d ON d.app_id = l.app_id AND d.ordinal = l.device_ordinal
                WHERE l.app_id = @appId AND l.campaign_id = @campaignId AND l.state IN ('sent', 'delivered', 'opened', 'dismissed')
                """, new { appId, campaignId })).ToList();
        }
        var recalled = new System.Collections.Concurrent.ConcurrentBag<int>();
        var failed = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var looked = new ChunkGateways(gateways, appId, ct);
        await Parallel.ForEachAsync(rows, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct }, async (row, token) =>
        {
            var channel = Channels.ForPlatform(row.Platform);
            if (channel is null || row.PushToken is null) { failed.AddOrUpdate("no push token", 1, (_, n) => n + 1); return; }
            var gateway = await looked.PushAsync(channel);
            var outcome = await gateway.SendAsync(new PushTarget(row.PushToken), new PushMessage { MessageId = row.MessageId, Command = "recall" }, token);
            if (outcome.Kind == OutcomeKind.Delivered) recalled.Add(row.Recipient);
            else failed.AddOrUpdate(outcome.Reason ?? outcome.Kind.ToString(), 1, (_, n) => n + 1);
        });

        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using (var conn = await db.OpenAsync(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            await conn.ExecuteAsync("UPDATE deliveries SET state = 'recalled', updated_at = @now WHERE app_id = @appId AND campaign_id = @campaignId AND recipient = @r",
                recalled.Select(r => new { appId, campaignId, r, now }), tx);
            await conn.ExecuteAsync("UPDATE campaigns SET state = 'recalled', updated_at = @now WHERE app_id = @appId AND id = @campaignId", new { appId, campaignId, now }, tx);
            await CampaignService.RecordAsync(conn, tx, appId, campaignId, campaign.State, CampaignStates.Recalled, actor, reason ?? "recalled", now);
            await tx.CommitAsync(ct);
        }
        return new RecallResult(campaignId, rows.Count, recalled.Count, rows.Count - recalled.Count, failed, Note);
    }
}
