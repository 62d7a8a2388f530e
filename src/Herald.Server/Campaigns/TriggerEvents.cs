using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Dapper;
using Herald.Server.Storage;

namespace Herald.Server.Campaigns;

/// <summary>
/// The events that fired a triggered run, per person: their attributes are <c>event.*</c> in the
/// run's templates ("You left {{event.item}} in your cart"). A run of an event or absence trigger
/// keeps, on each fired trigger row, the id of the event that started it; other campaigns have none.
/// </summary>
internal sealed class TriggerEvents
{
    private readonly Dictionary<int, string> _byUser = [];
    private readonly Dictionary<int, string> _byDevice = [];

    private sealed class Row
    {
        public int? UserOrdinal { get; init; }
        public int? DeviceOrdinal { get; init; }
        public string Properties { get; init; } = "{}";
    }

    /// <summary>Null for a campaign that is not a triggered run (known after one look-up per campaign).</summary>
    public static async Task<TriggerEvents?> LoadAsync(Db db, ConcurrentDictionary<(long, long), bool> runs, long appId, long campaignId, CancellationToken ct)
    {
        if (runs.TryGetValue((appId, campaignId), out var isRun) && !isRun) return null;
        await using var conn = await db.OpenAsync(ct);
        if (!runs.ContainsKey((appId, campaignId)))
        {
            isRun = await conn.ExecuteScalarAsync<long>(
                "SELECT count(*) FROM campaign_runs WHERE app_id = @appId AND run_campaign_id = @campaignId AND run_key LIKE 'trigger-%'",
                new { appId, campaignId }) > 0;
            runs[(appId, campaignId)] = isRun;
            if (!isRun) return null;
        }
        var found = new TriggerEvents();
        foreach (var r in await conn.QueryAsync<Row>(
                     """
                     SELECT t.user_ordinal AS UserOrdinal, t.device_ordinal AS DeviceOrdinal, e.properties AS Properties
                     FROM pending_triggers t JOIN events e ON e.app_id = t.app_id AND e.message_id = t.occurrence
                     WHERE t.app_id = @appId AND t.run_id = @campaignId
                     """, new { appId, campaignId }))
        {
            if (r.UserOrdinal is { } u) found._byUser[u] = r.Properties;
            else if (r.DeviceOrdinal is { } d) found._byDevice[d] = r.Properties;
        }
        return found;
    }

    /// <summary>The attributes of the event that fired the message for this person, if an event did.</summary>
    public JsonObject? For(int? userOrdinal, int? deviceOrdinal)
    {
        string? properties = null;
        if (userOrdinal is { } u) _byUser.TryGetValue(u, out properties);
        if (properties is null && deviceOrdinal is { } d) _byDevice.TryGetValue(d, out properties);
        return properties is null ? null : JsonNode.Parse(properties) as JsonObject;
    }
}
