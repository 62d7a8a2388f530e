using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Apps;

public sealed class AppService(Db db, ApiKeys keys, SecretBox secrets, TimeProvider clock)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    public const int MaxNameLength = 200;

    public async Task<CreatedApp> CreateAsync(CreateAppRequest request, CancellationToken ct)
    {
        var name = ValidateName(request.Name);
        var category = ValidateCategory(request.Category ?? "general");
        var timezone = ValidateTimezone(request.Timezone ?? "UTC");
        var (vapidPublic, vapidPrivate) = NewVapidKeys();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();

        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var id = await conn.ExecuteScalarAsync<long>(
            """
            INSERT INTO apps (name, category, timezone, vapid_public_key, vapid_private_key, created_at)
            VALUES (@name, @category, @timezone, @vapidPublic, '', @now) RETURNING id
            """, new { name, category, timezone, vapidPublic, now }, tx);
        // Encrypted with the new row's id as associated data, so it is set once the id is known.
        await conn.ExecuteAsync("UPDATE apps SET vapid_private_key = @key, credentials = @credentials WHERE id = @id",
            new { id, key = secrets.Protect(vapidPrivate, VapidContext(id)), credentials = secrets.Protect("{}", CredentialsContext(id)) }, tx);
        // A new app has no events, so its (empty) rollups are current in its timezone from the start;
        // the first merge then never has to rebuild from the events table while later events are in flight.
        await conn.ExecuteAsync("INSERT INTO analytics_state (app_id, timezone, rebuilt_at) VALUES (@id, @timezone, @now)", new { id, timezone, now }, tx);
        var sdk = await InsertKeyAsync(conn, tx, id, KeyKind.Sdk, "Default SDK key", null, now);
        var rest = await InsertKeyAsync(conn, tx, id, KeyKind.Rest, "Default REST key", null, now);
        await tx.CommitAsync(ct);
        return new CreatedApp((await GetAsync(id, ct))!, sdk, rest);
    }

    public async Task<AppView?> GetAsync(long appId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var row = await conn.QueryFirstOrDefaultAsync<AppRow>(
            "SELECT id, name, category, timezone, settings, credentials, vapid_public_key AS VapidPublicKey, created_at AS CreatedAt FROM apps WHERE id = @appId",
            new { appId });
        return row is null ? null : ToView(row);
    }

    public async Task<IReadOnlyList<AppView>> ListAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<AppRow>(
            "SELECT id, name, category, timezone, settings, credentials, vapid_public_key AS VapidPublicKey, created_at AS CreatedAt FROM apps ORDER BY id");
        return rows.Select(ToView).ToList();
    }

    public async Task<AppView> UpdateAsync(long appId, UpdateAppRequest request, CancellationToken ct)
    {
        var current = await GetAsync(appId, ct) ?? throw ProblemException.NotFound($"App {appId}");
        var name = request.Name is null ? current.Name : ValidateName(request.Name);
        var category = request.Category is null ? current.Category : ValidateCategory(request.Category);
        var timezone = request.Timezone is null ? current.Timezone : ValidateTimezone(request.Timezone);
        var limits = request.Limits is null ? current.Limits : ValidateLimits(request.Limits);
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync(
            "UPDATE apps SET name = @name, category = @category, timezone = @timezone, settings = @settings WHERE id = @appId",
            new { appId, name, category, timezone, settings = JsonSerializer.Serialize(limits, Json) });
        return (await GetAsync(appId, ct))!;
    }

    /// <summary>Stores one channel's credentials (replacing earlier ones). Never echoed back in full.</summary>
    public async Task<AppView> SetCredentialsAsync(long appId, string channel, JsonElement body, CancellationToken ct)
    {
        JsonNode stored = channel switch
        {
            "fcm" => ChannelCredentials.Fcm(Deserialize<FcmCredentialsInput>(body)),
            "apns" => ChannelCredentials.Apns(Deserialize<ApnsCredentialsInput>(body)),
            "smtp" => ChannelCredentials.Smtp(Deserialize<SmtpCredentialsInput>(body)),
            "sms" => ChannelCredentials.Sms(Deserialize<SmsCredentialsInput>(body)),
            "vapid" => ChannelCredentials.Vapid(Deserialize<VapidSubjectInput>(body)),
            _ => throw ProblemException.NotFound($"Channel '{channel}' (use fcm, apns, smtp, sms or vapid)"),
        };
        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var raw = await conn.ExecuteScalarAsync<string?>("SELECT credentials FROM apps WHERE id = @appId", new { appId }, tx)
            ?? throw ProblemException.NotFound($"App {appId}");
        var all = JsonNode.Parse(secrets.Unprotect(raw, CredentialsContext(appId)))!.AsObject();
        all[channel] = stored;
        await conn.ExecuteAsync("UPDATE apps SET credentials = @c WHERE id = @appId", new { appId, c = secrets.Protect(all.ToJsonString(), CredentialsContext(appId)) }, tx);
        await tx.CommitAsync(ct);
        return (await GetAsync(appId, ct))!;
    }

    /// <summary>The stored (unmasked) credentials of one channel, for the gateways.</summary>
    public async Task<JsonObject?> GetSecretCredentialsAsync(long appId, string channel, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var raw = await conn.ExecuteScalarAsync<string?>("SELECT credentials FROM apps WHERE id = @appId", new { appId });
        return raw is null ? null : JsonNode.Parse(secrets.Unprotect(raw, CredentialsContext(appId)))?[channel]?.AsObject();
    }

    public static string CredentialsContext(long appId) => $"apps.credentials:{appId}";
    public static string VapidContext(long appId) => $"apps.vapid_private_key:{appId}";

    /// <summary>
    /// Encrypts what an older Herald stored in plain text (credentials, VAPID private keys); run at
    /// start-up after the migrations. Values already encrypted are left alone.
    /// </summary>
    public async Task<int> EncryptStoredSecretsAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        // Only rows still holding plain text: on every later start this reads nothing.
        var rows = (await conn.QueryAsync<(long Id, string Credentials, string VapidPrivateKey)>(
            "SELECT id, credentials, vapid_private_key FROM apps WHERE credentials NOT LIKE 'enc:v1:%' OR (vapid_private_key NOT LIKE 'enc:v1:%' AND vapid_private_key <> '')")).ToList();
        var changed = 0;
        foreach (var (id, credentials, vapid) in rows)
        {
            await conn.ExecuteAsync("UPDATE apps SET credentials = @c, vapid_private_key = @v WHERE id = @id", new
            {
                id,
                c = SecretBox.IsProtected(credentials) ? credentials : secrets.Protect(credentials, CredentialsContext(id)),
                v = SecretBox.IsProtected(vapid) || vapid.Length == 0 ? vapid : secrets.Protect(vapid, VapidContext(id)),
            });
            changed++;
        }
        return changed;
    }

    public async Task<CreatedKey> CreateKeyAsync(long appId, CreateKeyRequest request, CancellationToken ct)
    {
        var kind = request.Kind?.ToLowerInvariant() switch
        {
            "sdk" => KeyKind.Sdk,
            "rest" => KeyKind.Rest,
            _ => throw ProblemException.BadRequest($"kind must be 'sdk' or 'rest'; got '{request.Kind}'.", "kind"),
        };
        ApiKeys.ValidateAllowList(request.IpAllowList);
        if (request.Name is { Length: > MaxNameLength })
            throw ProblemException.BadRequest($"name is {request.Name.Length} characters; the limit is {MaxNameLength}.", "name", MaxNameLength);
        await using var conn = await db.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var exists = await conn.ExecuteScalarAsync<long?>("SELECT id FROM apps WHERE id = @appId", new { appId }, tx);
        if (exists is null) throw ProblemException.NotFound($"App {appId}");
        var key = await InsertKeyAsync(conn, tx, appId, kind, request.Name ?? $"{kind} key", request.IpAllowList, clock.GetUtcNow().ToUnixTimeMilliseconds());
        await tx.CommitAsync(ct);
        return key;
    }

    public async Task<IReadOnlyList<KeyView>> ListKeysAsync(long appId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<KeyView>(
            "SELECT id, kind, name, prefix, ip_allow AS IpAllowList, created_at AS CreatedAt, revoked_at AS RevokedAt FROM api_keys WHERE app_id = @appId ORDER BY id",
            new { appId });
        return rows.ToList();
    }

    public async Task RevokeKeyAsync(long appId, long keyId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var hash = await conn.ExecuteScalarAsync<string?>(
            "UPDATE api_keys SET revoked_at = @now WHERE app_id = @appId AND id = @keyId AND revoked_at IS NULL RETURNING key_hash",
            new { appId, keyId, now = clock.GetUtcNow().ToUnixTimeMilliseconds() })
            ?? throw ProblemException.NotFound($"Active key {keyId}");
        keys.Forget(hash);
    }

    private static async Task<CreatedKey> InsertKeyAsync(System.Data.Common.DbConnection conn, System.Data.Common.DbTransaction tx,
        long appId, KeyKind kind, string name, string? ipAllow, long now)
    {
        var secret = ApiKeys.NewSecret(kind == KeyKind.Sdk ? "hsk_" : "hrk_");
        var kindText = kind == KeyKind.Sdk ? "sdk" : "rest";
        var id = await conn.ExecuteScalarAsync<long>(
            """
            INSERT INTO api_keys (app_id, kind, name, key_hash, prefix, ip_allow, created_at)
            VALUES (@appId, @kindText, @name, @hash, @prefix, @ipAllow, @now) RETURNING id
            """, new { appId, kindText, name, hash = ApiKeys.Hash(secret), prefix = ApiKeys.PrefixOf(secret), ipAllow, now }, tx);
        return new CreatedKey(id, kindText, name, secret, ipAllow);
    }

    private static T Deserialize<T>(JsonElement body) =>
        body.Deserialize<T>(Json) ?? throw ProblemException.BadRequest("The body must be a JSON object.", "body");

    internal static (string Public, string Private) NewVapidKeys()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var p = key.ExportParameters(includePrivateParameters: true);
        var pub = new byte[65];
        pub[0] = 0x04;
        p.Q.X!.CopyTo(pub, 1);
        p.Q.Y!.CopyTo(pub, 33);
        return (Base64Url.EncodeToString(pub), Base64Url.EncodeToString(p.D!));
    }

    private static string ValidateName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name)) throw ProblemException.BadRequest("name is required.", "name");
        if (name.Length > MaxNameLength) throw ProblemException.BadRequest($"name is {name.Length} characters; the limit is {MaxNameLength}.", "name", MaxNameLength);
        return name.Trim();
    }

    private static string ValidateCategory(string category)
    {
        var c = category.Trim().ToLowerInvariant().Replace("-", "", StringComparison.Ordinal);
        return AppCategories.All.Contains(c) ? c
            : throw ProblemException.BadRequest($"category must be one of {string.Join(", ", AppCategories.All)}; got '{category}'.", "category");
    }

    internal static string ValidateTimezone(string tz, string field = "timezone")
    {
        if (tz.Length <= 64 && TimeZoneInfo.TryFindSystemTimeZoneById(tz, out var found) && found.HasIanaId)
            return tz;
        throw ProblemException.BadRequest($"'{tz}' is not an IANA time zone name (e.g. Europe/Istanbul).", field);
    }

    private static AppLimits ValidateLimits(AppLimits l)
    {
        static void Positive(int? v, string f) { if (v is <= 0) throw ProblemException.BadRequest($"{f} must be a positive number or null.", $"limits.{f}"); }
        Positive(l.MaxPushesPerUserPerDay, "maxPushesPerUserPerDay");
        Positive(l.MaxPushesPerUserPerWeek, "maxPushesPerUserPerWeek");
        if (l.EmailMaxPer24Hours is < -1 or 0) throw ProblemException.BadRequest("emailMaxPer24Hours must be -1 (unlimited) or positive.", "limits.emailMaxPer24Hours");
        if (l.EmailMaxPerSecond is <= 0) throw ProblemException.BadRequest("emailMaxPerSecond must be positive.", "limits.emailMaxPerSecond");
        foreach (var (v, f) in new[] { (l.QuietHoursStart, "quietHoursStart"), (l.QuietHoursEnd, "quietHoursEnd") })
            if (v is not null && !TimeOnly.TryParseExact(v, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
                throw ProblemException.BadRequest($"{f} must be a local time as HH:mm; got '{v}'.", $"limits.{f}");
        if ((l.QuietHoursStart is null) != (l.QuietHoursEnd is null))
            throw ProblemException.BadRequest("quietHoursStart and quietHoursEnd go together.", "limits.quietHoursEnd");
        return l;
    }

    private AppView ToView(AppRow r) => new(
        r.Id, r.Name, r.Category, r.Timezone,
        JsonSerializer.Deserialize<AppLimits>(r.Settings, Json) ?? new AppLimits(),
        r.VapidPublicKey, ChannelCredentials.Mask(secrets.Unprotect(r.Credentials, CredentialsContext(r.Id))), r.CreatedAt);

    private sealed record AppRow(long Id, string Name, string Category, string Timezone, string Settings, string Credentials, string VapidPublicKey, long CreatedAt);
}
