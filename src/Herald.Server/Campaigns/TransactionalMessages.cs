using System.Text.Json;
using Dapper;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Campaigns;

/// <summary>A transactional send (R-MSG-12): one user, device or list, now, through the urgent lane.</summary>
public sealed record TransactionalRequest(string Channel, List<string>? Users, List<string>? Devices, ContentDefinition Content, string MissingValues = "default", bool Urgent = true);

/// <summary>
/// Sends a message to named users or devices from a back end. With an <c>Idempotency-Key</c>, the
/// same key twice sends once and answers the first result (a retried request after a timeout is
/// safe). Each send is a campaign of its own, so it has a ledger, a report and a history.
/// </summary>
public sealed class TransactionalMessages(Db db, CampaignService campaigns, CampaignPlanner planner, DispatchWorker dispatch, TimeProvider clock)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    public const int MaxKeyLength = 255;

    public async Task<PlanSummary> SendAsync(long appId, TransactionalRequest request, string? idempotencyKey, string actor, CancellationToken ct)
    {
        if (request.Users is not { Count: > 0 } && request.Devices is not { Count: > 0 })
            throw ProblemException.BadRequest("Name the recipients: users or devices.", "users");
        if (idempotencyKey is { Length: > MaxKeyLength })
            throw ProblemException.BadRequest($"Idempotency-Key is longer than {MaxKeyLength} characters.", "Idempotency-Key", MaxKeyLength);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (idempotencyKey is not null)
        {
            await using var conn = await db.OpenAsync(ct);
            var claimed = await conn.ExecuteAsync(
                "INSERT INTO idempotency_keys (app_id, key, campaign_id, response, created_at) VALUES (@appId, @idempotencyKey, 0, '', @now) ON CONFLICT DO NOTHING",
                new { appId, idempotencyKey, now });
            if (claimed == 0)
            {
                var stored = await conn.ExecuteScalarAsync<string>("SELECT response FROM idempotency_keys WHERE app_id = @appId AND key = @idempotencyKey", new { appId, idempotencyKey });
                if (string.IsNullOrEmpty(stored))
                    throw new ProblemException(409, "In progress", "A request with this Idempotency-Key is still being processed; retry shortly.", "Idempotency-Key");
                return JsonSerializer.Deserialize<PlanSummary>(stored, Json)!;
            }
        }
        try
        {
            var definition = new CampaignDefinition
            {
                Name = idempotencyKey is null ? "Transactional message" : $"Transactional {idempotencyKey}",
                Channel = request.Channel,
                Content = request.Content,
                Audience = new AudienceDefinition { Users = request.Users, Devices = request.Devices },
                MissingValues = request.MissingValues,
                Urgent = request.Urgent,
            };
            var campaign = await campaigns.CreateAsync(appId, definition, actor, ct);
            var plan = await planner.PlanAsync(appId, campaign.Id, actor, ct, approved: true); // a transactional message is not a campaign to approve
            dispatch.Wake();
            if (idempotencyKey is not null)
            {
                await using var conn = await db.OpenAsync(ct);
                await conn.ExecuteAsync("UPDATE idempotency_keys SET campaign_id = @id, response = @response WHERE app_id = @appId AND key = @idempotencyKey",
                    new { appId, idempotencyKey, id = campaign.Id, response = JsonSerializer.Serialize(plan, Json) });
            }
            return plan;
        }
        catch when (idempotencyKey is not null)
        {
            // Nothing was sent: free the key so the caller can retry with it.
            await using var conn = await db.OpenAsync(CancellationToken.None);
            await conn.ExecuteAsync("DELETE FROM idempotency_keys WHERE app_id = @appId AND key = @idempotencyKey AND response = ''", new { appId, idempotencyKey });
            throw;
        }
    }
}
