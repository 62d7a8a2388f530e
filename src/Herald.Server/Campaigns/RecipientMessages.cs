using Dapper;
using Herald.Server.Storage;

namespace Herald.Server.Campaigns;

/// <summary>One message a user or device was sent, from the delivery ledger, with what happened to it since.</summary>
public sealed record ReceivedMessage(long CampaignId, string Campaign, string Channel, string State, string? Reason, string? Platform,
    string? InstallationId, string MessageId, long SentAt, long? OpenedAt, long? ConvertedAt);

/// <summary>
/// "Messages received" of one person (R-ID: profile view): ledger rows that went out to a user's
/// devices and addresses, or to one device, newest first. Reads the sent rows only, through the
/// ledger's (app, user, sent_at) index.
/// </summary>
public sealed class RecipientMessages(Db db)
{
    private const string Select = """
        SELECT l.campaign_id AS CampaignId, c.name AS Campaign, c.channel AS Channel, l.state AS State, l.reason AS Reason, l.platform AS Platform,
               d.installation_id AS InstallationId, l.message_id AS MessageId, l.sent_at AS SentAt, l.opened_at AS OpenedAt, l.converted_at AS ConvertedAt
        FROM deliveries l
        JOIN campaigns c ON c.app_id = l.app_id AND c.id = l.campaign_id
        LEFT JOIN devices d ON d.app_id = l.app_id AND d.ordinal = l.device_ordinal
        """;

    public Task<IReadOnlyList<ReceivedMessage>> ForUserAsync(long appId, string externalId, int limit, CancellationToken ct) =>
        SentAsync("l.user_ordinal IN (SELECT ordinal FROM users WHERE app_id = @appId AND external_id = @id)", appId, externalId, limit, ct);

    public Task<IReadOnlyList<ReceivedMessage>> ForDeviceAsync(long appId, string installationId, int limit, CancellationToken ct) =>
        SentAsync("l.device_ordinal IN (SELECT ordinal FROM devices WHERE app_id = @appId AND installation_id = @id)", appId, installationId, limit, ct);

    /// <summary>The sent rows matching <paramref name="whose"/> (a condition on <c>@id</c>), newest first.</summary>
    private async Task<IReadOnlyList<ReceivedMessage>> SentAsync(string whose, long appId, string id, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        return (await conn.QueryAsync<ReceivedMessage>(new CommandDefinition(
            $"""
            {Select}
            WHERE l.app_id = @appId AND l.sent_at IS NOT NULL AND {whose}
            ORDER BY l.sent_at DESC LIMIT @limit
            """, new { appId, id, limit }, cancellationToken: ct))).ToList();
    }
}
