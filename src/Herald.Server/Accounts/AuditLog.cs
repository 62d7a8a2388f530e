using Dapper;
using Herald.Server.Storage;

namespace Herald.Server.Accounts;

public sealed record AuditEntry(long Id, long At, long? UserId, string Actor, long? AppId, string Action, string? Detail, string? Address);

/// <summary>Who did what, when, from where. Written beside every panel change and sign-in event.</summary>
public sealed class AuditLog(Db db, TimeProvider clock)
{
    public async Task WriteAsync(long? userId, string actor, long? appId, string action, string? detail, string? address, CancellationToken ct = default)
    {
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync(
            "INSERT INTO panel_audit (at, user_id, actor, app_id, action, detail, address) VALUES (@at, @userId, @actor, @appId, @action, @detail, @address)",
            new { at = clock.GetUtcNow().ToUnixTimeMilliseconds(), userId, actor, appId, action, detail, address });
    }

    /// <summary>Newest first; <paramref name="appId"/> null reads every app and the installation-wide entries.</summary>
    public async Task<IReadOnlyList<AuditEntry>> ReadAsync(long? appId, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<AuditEntry>(
            "SELECT id AS Id, at AS At, user_id AS UserId, actor AS Actor, app_id AS AppId, action AS Action, detail AS Detail, address AS Address FROM panel_audit"
            + (appId is null ? "" : " WHERE app_id = @appId") + " ORDER BY id DESC LIMIT @limit", new { appId, limit });
        return rows.ToList();
    }
}
