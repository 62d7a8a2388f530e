using System.Text.Json.Nodes;
using Dapper;
using Herald.Server.Storage;

namespace Herald.Server.Identity;

/// <summary>Reads and deletes of devices, users and their events. Writes go through the ingest writer.</summary>
public sealed class IdentityStore(Db db)
{
    private const string DeviceColumns =
        """
        d.installation_id AS InstallationId, d.ordinal AS Ordinal, d.platform AS Platform, d.anonymous_id AS AnonymousId,
        u.external_id AS ExternalId, d.push_token AS PushToken, d.push_enabled AS PushEnabled, d.timezone AS Timezone,
        d.locale AS Locale, d.app_version AS AppVersion, d.os_version AS OsVersion, d.latitude AS Latitude,
        d.longitude AS Longitude, d.created_at AS CreatedAt, d.last_seen_at AS LastSeenAt, d.uninstalled_at AS UninstalledAt,
        d.uninstall_reason AS UninstallReason, d.reinstalled_at AS ReinstalledAt, d.token_updated_at AS TokenUpdatedAt
        FROM devices d LEFT JOIN users u ON u.app_id = d.app_id AND u.ordinal = d.user_ordinal
        """;

    public async Task<DeviceView?> GetDeviceAsync(long appId, string installationId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        return await conn.QueryFirstOrDefaultAsync<DeviceView>(
            $"SELECT {DeviceColumns} WHERE d.app_id = @appId AND d.installation_id = @installationId", new { appId, installationId });
    }

    public async Task<UserView?> GetUserAsync(long appId, string externalId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var ordinal = await ResolveUserAsync(conn, appId, externalId);
        if (ordinal is null) return null;
        var row = await conn.QuerySingleAsync<UserRow>(
            """
            SELECT ordinal AS Ordinal, external_id AS ExternalId, email AS Email, phone AS Phone, optin_push AS OptInPush,
                   optin_email AS OptInEmail, optin_sms AS OptInSms, email_suppressed_at AS EmailSuppressedAt,
                   email_suppression_reason AS EmailSuppressionReason, attributes AS AttributesJson, created_at AS CreatedAt, updated_at AS UpdatedAt
            FROM users WHERE app_id = @appId AND ordinal = @ordinal
            """, new { appId, ordinal });
        var devices = await conn.QueryAsync<DeviceView>($"SELECT {DeviceColumns} WHERE d.app_id = @appId AND d.user_ordinal = @ordinal ORDER BY d.ordinal",
            new { appId, ordinal });
        return new UserView
        {
            ExternalId = externalId, Ordinal = row.Ordinal, Email = row.Email, Phone = row.Phone,
            OptInPush = row.OptInPush, OptInEmail = row.OptInEmail, OptInSms = row.OptInSms,
            EmailSuppressedAt = row.EmailSuppressedAt, EmailSuppressionReason = row.EmailSuppressionReason,
            Attributes = JsonNode.Parse(row.AttributesJson)!.AsObject(), CreatedAt = row.CreatedAt, UpdatedAt = row.UpdatedAt,
            Devices = devices.ToList(),
        };
    }

    /// <summary>A user's ordinal, following alias merges; null for unknown or deleted users.</summary>
    private static async Task<int?> ResolveUserAsync(System.Data.Common.DbConnection conn, long appId, string externalId)
    {
        var r = await conn.QueryFirstOrDefaultAsync<(long ordinal, long? merged)?>(
            "SELECT ordinal, merged_into FROM users WHERE app_id = @appId AND external_id = @externalId AND deleted_at IS NULL", new { appId, externalId });
        return r is { } x ? (int)(x.merged ?? x.ordinal) : null;
    }

    /// <summary>External ids of (live) users with this email address, case-insensitively (the panel's look-up).</summary>
    public async Task<IReadOnlyList<string>> ExternalIdsByEmailAsync(long appId, string email, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<string>(
            """
            SELECT external_id FROM users
            WHERE app_id = @appId AND lower(email) = lower(@email) AND deleted_at IS NULL AND merged_into IS NULL AND external_id IS NOT NULL
            ORDER BY ordinal LIMIT @limit
            """, new { appId, email, limit });
        return rows.ToList();
    }

    public async Task<IReadOnlyList<EventView>> RecentEventsAsync(long appId, string? externalId, string? installationId, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        string where;
        object args;
        if (externalId is not null)
        {
            var ordinal = await ResolveUserAsync(conn, appId, externalId);
            if (ordinal is null) return [];
            where = "e.user_ordinal = @ordinal";
            args = new { appId, ordinal, limit };
        }
        else
        {
            var ordinal = await conn.ExecuteScalarAsync<long?>("SELECT ordinal FROM devices WHERE app_id = @appId AND installation_id = @installationId", new { appId, installationId });
            if (ordinal is null) return [];
            where = "e.device_ordinal = @ordinal";
            args = new { appId, ordinal, limit };
        }
        var rows = await conn.QueryAsync<EventView>(
            $"""
            SELECT e.message_id AS MessageId, e.name AS Name, d.installation_id AS InstallationId, u.external_id AS ExternalId,
                   e.occurred_at AS OccurredAt, e.received_at AS ReceivedAt, e.properties AS PropertiesJson, e.revenue AS Revenue,
                   e.currency AS Currency, e.utm_source AS UtmSource, e.utm_medium AS UtmMedium, e.utm_campaign AS UtmCampaign,
                   e.utm_term AS UtmTerm, e.utm_content AS UtmContent
            FROM events e
            LEFT JOIN devices d ON d.app_id = e.app_id AND d.ordinal = e.device_ordinal
            LEFT JOIN users u ON u.app_id = e.app_id AND u.ordinal = e.user_ordinal
            WHERE e.app_id = @appId AND {where}
            ORDER BY e.occurred_at DESC LIMIT @limit
            """, args);
        return rows.ToList();
    }

    /// <summary>
    /// R-ID-5: removes a user's personal data — profile, devices and their events. The user's ordinal
    /// stays as an empty tombstone so ordinals are never reused.
    /// </summary>
    public async Task<bool> DeleteUserAsync(long appId, string externalId, long now, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var ordinals = (await conn.QueryAsync<long>(
            "SELECT ordinal FROM users WHERE app_id = @appId AND (external_id = @externalId OR merged_into = (SELECT ordinal FROM users WHERE app_id = @appId AND external_id = @externalId)) AND deleted_at IS NULL",
            new { appId, externalId }, tx)).Select(o => (int)o).ToArray();
        if (ordinals.Length == 0) return false;
        foreach (var ordinal in ordinals)
        {
            await conn.ExecuteAsync(
                "DELETE FROM events WHERE app_id = @appId AND (user_ordinal = @ordinal OR device_ordinal IN (SELECT ordinal FROM devices WHERE app_id = @appId AND user_ordinal = @ordinal))",
                new { appId, ordinal }, tx);
            await conn.ExecuteAsync(
                "DELETE FROM device_geofences WHERE app_id = @appId AND device_ordinal IN (SELECT ordinal FROM devices WHERE app_id = @appId AND user_ordinal = @ordinal)",
                new { appId, ordinal }, tx);
            await conn.ExecuteAsync("DELETE FROM devices WHERE app_id = @appId AND user_ordinal = @ordinal", new { appId, ordinal }, tx);
            await conn.ExecuteAsync(
                """
                UPDATE users SET external_id = NULL, email = NULL, phone = NULL, attributes = '{}', merged_into = NULL,
                                 deleted_at = @now, updated_at = @now
                WHERE app_id = @appId AND ordinal = @ordinal
                """, new { appId, ordinal, now }, tx);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    private sealed class UserRow
    {
        public int Ordinal { get; init; }
        public string? ExternalId { get; init; }
        public string? Email { get; init; }
        public string? Phone { get; init; }
        public bool OptInPush { get; init; }
        public bool OptInEmail { get; init; }
        public bool OptInSms { get; init; }
        public long? EmailSuppressedAt { get; init; }
        public string? EmailSuppressionReason { get; init; }
        public string AttributesJson { get; init; } = "{}";
        public long CreatedAt { get; init; }
        public long UpdatedAt { get; init; }
    }
}
