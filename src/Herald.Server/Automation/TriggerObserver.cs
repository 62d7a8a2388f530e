using System.Text.Json;
using Dapper;
using Herald.Server.Campaigns;
using Herald.Server.Ingest;
using Herald.Server.Storage;

namespace Herald.Server.Automation;

/// <summary>
/// Turns stored events into pending triggers of active campaigns: a matching event (name and
/// attribute filters) writes a row due at event time + delay (absence: + the window), and a cancel
/// event cancels the person's pending absence row. Rows are keyed by the event's message id, so
/// seeing an event twice writes one row. The worker checks the events table again before firing,
/// so a cancel event observed late (or in the same batch) still cancels.
/// </summary>
public sealed class TriggerObserver(Db db, AutomationWake worker, TimeProvider clock) : IIngestObserver
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>An event whose message would have been due longer ago than this is history, not a trigger.</summary>
    public static readonly TimeSpan Stale = TimeSpan.FromDays(1);

    internal sealed record Active(long AppId, long Id, TriggerDefinition Trigger);

    public async Task OnCommittedAsync(IReadOnlyList<StoredEvent> events)
    {
        var appIds = events.Select(e => e.AppId).Distinct().ToArray();
        await using var conn = await db.OpenAsync();
        var active = (await ActiveTriggersAsync(conn, appIds))
            .Where(a => a.Trigger.Type is TriggerTypes.Event or TriggerTypes.Absence).ToList();
        if (active.Count == 0) return;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var rows = new List<object>();
        var cancels = new List<object>();
        foreach (var a in active)
        {
            var t = a.Trigger;
            var starts = events.Where(e => e.AppId == a.AppId && e.Name == t.Event && (e.UserOrdinal ?? e.DeviceOrdinal) is not null).ToList();
            if (t.Filters is { Count: > 0 } && starts.Count > 0)
                starts = await FilteredAsync(conn, a.AppId, starts, AutomationValidator.Conditions(t.Filters), now);
            var wait = t.Type == TriggerTypes.Absence ? t.WithinMinutes!.Value * 60_000L : t.DelaySeconds * 1000L;
            foreach (var e in starts)
            {
                var due = e.OccurredAt + wait;
                if (due < now - (long)Stale.TotalMilliseconds) continue;
                rows.Add(new
                {
                    app = a.AppId, campaign = a.Id, subject = Subject(e.UserOrdinal, e.DeviceOrdinal), occurrence = e.MessageId,
                    user = e.UserOrdinal, device = e.UserOrdinal is null ? e.DeviceOrdinal : null, started = e.OccurredAt, due = Math.Max(due, now), now,
                });
            }
            if (t.Type == TriggerTypes.Absence)
                foreach (var e in events.Where(e => e.AppId == a.AppId && e.Name == t.CancelEvent && (e.UserOrdinal ?? e.DeviceOrdinal) is not null))
                    cancels.Add(new { app = a.AppId, campaign = a.Id, subject = Subject(e.UserOrdinal, e.DeviceOrdinal), at = e.OccurredAt, now, reason = $"cancelled by {e.Name}" });
        }
        if (rows.Count == 0 && cancels.Count == 0) return;
        await using (var tx = await conn.BeginTransactionAsync())
        {
            if (rows.Count > 0)
                await conn.ExecuteAsync(
                    """
                    INSERT INTO pending_triggers (app_id, campaign_id, subject, occurrence, user_ordinal, device_ordinal, state, started_at, due_at, updated_at)
                    VALUES (@app, @campaign, @subject, @occurrence, @user, @device, 'pending', @started, @due, @now)
                    ON CONFLICT DO NOTHING
                    """, rows, tx);
            if (cancels.Count > 0)
                await conn.ExecuteAsync(
                    """
                    UPDATE pending_triggers SET state = 'cancelled', reason = @reason, updated_at = @now
                    WHERE app_id = @app AND campaign_id = @campaign AND subject = @subject AND state = 'pending' AND started_at <= @at
                    """, cancels, tx);
            await tx.CommitAsync();
        }
        if (rows.Count > 0) worker.Wake();
    }

    public static string Subject(int? user, int? device) => user is { } u ? $"u{u}" : $"d{device}";

    /// <summary>Active campaigns with a trigger, of the given apps (all apps when null).</summary>
    internal async Task<List<Active>> ActiveTriggersAsync(System.Data.Common.DbConnection conn, long[]? appIds)
    {
        var sql = "SELECT app_id AS AppId, id AS Id, definition AS Definition FROM campaigns WHERE state = 'active'"
            + (appIds is null ? "" : $" AND {db.In("app_id", "appIds")}");
        var list = await conn.QueryAsync<(long AppId, long Id, string Definition)>(sql, new { appIds });
        return list.Select(r => (r.AppId, r.Id, JsonSerializer.Deserialize<CampaignDefinition>(r.Definition, Json)!))
            .Where(r => r.Item3.Trigger is not null)
            .Select(r => new Active(r.AppId, r.Id, r.Item3.Trigger!)).ToList();
    }

    private async Task<List<StoredEvent>> FilteredAsync(System.Data.Common.DbConnection conn, long appId, List<StoredEvent> starts,
        List<Analytics.AttributeCondition> conditions, long now)
    {
        var ids = starts.Select(e => e.MessageId).ToArray();
        var properties = (await conn.QueryAsync<(string MessageId, string Properties)>(
            $"SELECT message_id, properties FROM events WHERE app_id = @appId AND {db.In("message_id", "ids")}", new { appId, ids }))
            .ToDictionary(r => r.MessageId, r => r.Properties, StringComparer.Ordinal);
        return starts.Where(e =>
        {
            if (!properties.TryGetValue(e.MessageId, out var json)) return false;
            using var doc = JsonDocument.Parse(json);
            return conditions.All(c => c.Matches(doc.RootElement.TryGetProperty(c.Attribute, out var v) ? v : (JsonElement?)null, now));
        }).ToList();
    }
}
