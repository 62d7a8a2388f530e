using System.Text.Json;
using Dapper;
using Herald.Server.Apps;
using Herald.Server.Identity;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Campaigns;

public sealed class CampaignService(Db db, IdentityStore identity, AppService apps, Geofences.GeofenceService geofences, Catalog.CatalogService catalog, TimeProvider clock)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string Actor(AppCaller caller) => $"{caller.Kind.ToString().ToLowerInvariant()}-key:{caller.KeyId}";

    public async Task<CampaignView> CreateAsync(long appId, CampaignDefinition definition, string actor, CancellationToken ct)
    {
        var d = CampaignValidator.Validate(definition);
        await GeofencesExistAsync(appId, d, ct);
        if (d.Content.CatalogItem is not null) await catalog.RequireCatalogAppAsync(appId, "content.catalogItem", ct);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var id = await conn.ExecuteScalarAsync<long>(
            """
            INSERT INTO campaigns (app_id, name, channel, state, definition, created_at, updated_at)
            VALUES (@appId, @Name, @Channel, @state, @json, @now, @now) RETURNING id
            """, new { appId, d.Name, d.Channel, state = CampaignStates.Draft, json = JsonSerializer.Serialize(d, Json), now }, tx);
        await RecordAsync(conn, tx, appId, id, null, CampaignStates.Draft, actor, "created", now);
        await tx.CommitAsync(ct);
        return (await GetAsync(appId, id, ct))!;
    }

    /// <summary>Drafts and scheduled campaigns can still change; what is sending or sent cannot.</summary>
    public async Task<CampaignView> UpdateAsync(long appId, long id, CampaignDefinition definition, string actor, CancellationToken ct)
    {
        var d = CampaignValidator.Validate(definition);
        await GeofencesExistAsync(appId, d, ct);
        if (d.Content.CatalogItem is not null) await catalog.RequireCatalogAppAsync(appId, "content.catalogItem", ct);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var state = await conn.ExecuteScalarAsync<string?>("SELECT state FROM campaigns WHERE app_id = @appId AND id = @id", new { appId, id }, tx)
            ?? throw ProblemException.NotFound($"Campaign {id}");
        if (state is not (CampaignStates.Draft or CampaignStates.Scheduled))
            throw new ProblemException(409, "Campaign cannot change", $"Campaign {id} is {state}; only draft or scheduled campaigns can be edited.", "state");
        // A scheduled campaign is planned already: an edit would go out at its time without the
        // approval the app requires.
        if (state == CampaignStates.Scheduled && (await apps.GetAsync(appId, ct))?.Limits.RequireApproval == true)
            throw new ProblemException(409, "Approval required",
                $"Campaign {id} is scheduled and this app requires an approval of what goes out: stop it and send an approved copy instead of editing it.", "approval");
        await conn.ExecuteAsync("UPDATE campaigns SET name = @Name, channel = @Channel, definition = @json, updated_at = @now WHERE app_id = @appId AND id = @id",
            new { appId, id, d.Name, d.Channel, json = JsonSerializer.Serialize(d, Json), now }, tx);
        await RecordAsync(conn, tx, appId, id, state, state, actor, "edited", now);
        await tx.CommitAsync(ct);
        return (await GetAsync(appId, id, ct))!;
    }

    /// <summary>Fences the audience names must be the app's (another app's id reads as unknown).</summary>
    private async Task GeofencesExistAsync(long appId, CampaignDefinition d, CancellationToken ct)
    {
        foreach (var (id, i) in (d.Audience.Geofences ?? []).Select((id, i) => (id, i)))
            if (!await geofences.ExistsAsync(appId, id, null, ct))
                throw ProblemException.BadRequest($"audience.geofences[{i}]: geofence {id} does not exist.", $"audience.geofences[{i}]");
    }

    // withHistory: false on hot paths (the dispatcher) that need only the state and definition.
    public async Task<CampaignView?> GetAsync(long appId, long id, CancellationToken ct, bool withHistory = true)
    {
        await using var conn = await db.OpenAsync(ct);
        var row = await conn.QueryFirstOrDefaultAsync<Row>(
            "SELECT id AS Id, name AS Name, channel AS Channel, state AS State, definition AS Definition, created_at AS CreatedAt, updated_at AS UpdatedAt FROM campaigns WHERE app_id = @appId AND id = @id",
            new { appId, id });
        if (row is null) return null;
        if (!withHistory) return ToView(row, []);
        var history = await conn.QueryAsync<TransitionRow>(
            "SELECT seq AS Seq, at AS At, from_state AS FromState, to_state AS ToState, actor AS Actor, reason AS Reason FROM campaign_transitions WHERE app_id = @appId AND campaign_id = @id ORDER BY seq",
            new { appId, id });
        return ToView(row, history.Select(h => new TransitionView(h.Seq, h.At, h.FromState, h.ToState, h.Actor, h.Reason)).ToList());
    }

    public async Task<IReadOnlyList<CampaignView>> ListAsync(long appId, string? state, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<Row>(
            """
            SELECT id AS Id, name AS Name, channel AS Channel, state AS State, definition AS Definition, created_at AS CreatedAt, updated_at AS UpdatedAt
            FROM campaigns WHERE app_id = @appId AND (@state IS NULL OR state = @state) ORDER BY id DESC LIMIT @limit
            """, new { appId, state, limit });
        return rows.Select(r => ToView(r, [])).ToList();
    }

    public async Task<PreviewView> PreviewAsync(long appId, long id, PreviewRequest request, CancellationToken ct)
    {
        var campaign = await GetAsync(appId, id, ct) ?? throw ProblemException.NotFound($"Campaign {id}");
        return await PreviewAsync(appId, campaign.Definition, request, ct);
    }

    /// <summary>The same preview for a definition not saved yet (the panel wizard while typing); its templates must compile.</summary>
    public async Task<PreviewView> PreviewAsync(long appId, CampaignDefinition definition, PreviewRequest request, CancellationToken ct)
    {
        CampaignValidator.Templates(definition);
        UserView? user = null;
        DeviceView? device = null;
        if (request.InstallationId is { } inst)
        {
            device = await identity.GetDeviceAsync(appId, inst, ct) ?? throw ProblemException.NotFound($"Device '{inst}'");
            if (device.ExternalId is { } ext) user = await identity.GetUserAsync(appId, ext, ct);
        }
        else if (request.ExternalId is { } externalId)
        {
            user = await identity.GetUserAsync(appId, externalId, ct) ?? throw ProblemException.NotFound($"User '{externalId}'");
            device = user.Devices.FirstOrDefault();
        }
        else throw ProblemException.BadRequest("Name the recipient: externalId or installationId.", "externalId");
        var variants = definition.AbTest?.Variants.Count ?? 1;
        if (request.Variant is { } v && (v < 0 || v >= variants))
            throw ProblemException.BadRequest($"variant must be 0–{variants - 1} (the campaign has {variants} content variant(s)); got {v}.", "variant", variants - 1);
        var renderer = new CampaignRenderer(AbTests.ForVariant(definition, request.Variant ?? 0));
        var items = renderer.NeedsCatalog ? await catalog.SnapshotAsync(appId, ct) : null;
        return renderer.Render(CampaignRenderer.Context(user, device), request.Locale ?? device?.Locale, items);
    }

    internal static async Task RecordAsync(System.Data.Common.DbConnection conn, System.Data.Common.DbTransaction tx,
        long appId, long id, string? from, string to, string actor, string? reason, long at)
    {
        await conn.ExecuteAsync(
            """
            INSERT INTO campaign_transitions (app_id, campaign_id, seq, at, from_state, to_state, actor, reason)
            VALUES (@appId, @id, (SELECT COALESCE(max(seq), 0) + 1 FROM campaign_transitions WHERE app_id = @appId AND campaign_id = @id), @at, @from, @to, @actor, @reason)
            """, new { appId, id, at, from, to, actor, reason }, tx);
    }

    private static CampaignView ToView(Row r, IReadOnlyList<TransitionView> history) =>
        new(r.Id, r.Name, r.Channel, r.State, JsonSerializer.Deserialize<CampaignDefinition>(r.Definition, Json)!, r.CreatedAt, r.UpdatedAt, history);

    private sealed class Row
    {
        public long Id { get; init; }
        public string Name { get; init; } = "";
        public string Channel { get; init; } = "";
        public string State { get; init; } = "";
        public string Definition { get; init; } = "{}";
        public long CreatedAt { get; init; }
        public long UpdatedAt { get; init; }
    }

    private sealed class TransitionRow
    {
        public int Seq { get; init; }
        public long At { get; init; }
        public string? FromState { get; init; }
        public string ToState { get; init; } = "";
        public string Actor { get; init; } = "";
        public string? Reason { get; init; }
    }
}
