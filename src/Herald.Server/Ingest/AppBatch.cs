using System.Data;
using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Herald.Server.Storage;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Herald.Server.Ingest;

/// <summary>
/// One app's share of a group commit: resolves identities (creating devices and users with dense
/// ordinals as needed), applies identify / alias merges, and bulk-inserts the events — binary COPY
/// through a staging table on PostgreSQL, one prepared statement on SQLite — with duplicates (same
/// message id, R-EV-3) dropped by the primary key.
/// </summary>
internal sealed class AppBatch(Db db, DbConnection conn, DbTransaction tx, long appId, long now)
{
    private readonly Dictionary<string, DeviceState> _byInstallation = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DeviceState> _byAnonymous = new(StringComparer.Ordinal);
    private readonly Dictionary<string, UserState> _users = new(StringComparer.Ordinal);
    private readonly List<(EventOp Op, EventInput E, int? Device, int? User)> _events = [];
    private readonly Dictionary<int, long> _seen = [];
    private Dictionary<string, string>? _attributeTypes;
    // Ordinals reserved in one step for the devices / users this batch may create. A reservation
    // holds the app row's lock until commit, so one per batch keeps concurrent writers moving.
    private (int Next, int End) _devicePool, _userPool;
    private int _mayCreateDevices, _mayCreateUsers;

    public async Task PrefetchAsync(IEnumerable<IngestOp> ops)
    {
        var inst = new HashSet<string>(StringComparer.Ordinal);
        var anon = new HashSet<string>(StringComparer.Ordinal);
        var users = new HashSet<string>(StringComparer.Ordinal);
        foreach (var op in ops)
        {
            var who = op switch { EventOp e => e.Event.Who, IdentifyOp i => i.Who, _ => default };
            if (who.InstallationId is { } a) inst.Add(a);
            if (who.AnonymousId is { } b) anon.Add(b);
            if (who.UserId is { } c) users.Add(c);
            switch (op)
            {
                case IdentifyOp i when i.UserId.Length > 0: users.Add(i.UserId); break;
                case AliasOp al: users.Add(al.UserId); users.Add(al.PreviousId); anon.Add(al.PreviousId); break;
                case DeviceOp d:
                    if (d.Device.InstallationId is { } x) inst.Add(x);
                    if (d.Device.AnonymousId is { } y) anon.Add(y);
                    break;
            }
        }
        const string deviceCols = "ordinal AS Ordinal, installation_id AS InstallationId, anonymous_id AS AnonymousId, user_ordinal AS UserOrdinal";
        foreach (var d in await QueryIn<DeviceState>($"SELECT {deviceCols} FROM devices WHERE app_id = @appId AND installation_id", inst))
            Remember(d);
        foreach (var d in await QueryIn<DeviceState>($"SELECT {deviceCols} FROM devices WHERE app_id = @appId AND anonymous_id", anon))
            Remember(d);
        foreach (var u in await QueryIn<UserRow>("SELECT ordinal AS Ordinal, external_id AS ExternalId, merged_into AS MergedInto FROM users WHERE app_id = @appId AND external_id", users))
            _users[u.ExternalId] = new UserState(u.MergedInto ?? u.Ordinal);
        _mayCreateUsers = users.Count(u => !_users.ContainsKey(u));
        _mayCreateDevices = anon.Count(a => !_byAnonymous.ContainsKey(a))
            + ops.OfType<DeviceOp>().Count(d => d.Device.InstallationId is null || !_byInstallation.ContainsKey(d.Device.InstallationId));
    }

    private async Task<List<T>> QueryIn<T>(string sqlBeforeIn, HashSet<string> keys)
    {
        var list = new List<T>();
        if (keys.Count == 0) return list;
        if (db.IsPostgres)
        {
            list.AddRange(await conn.QueryAsync<T>($"{sqlBeforeIn} = ANY(@keys)", new { appId, keys = keys.ToArray() }, tx));
            return list;
        }
        foreach (var chunk in keys.Chunk(500))
            list.AddRange(await conn.QueryAsync<T>($"{sqlBeforeIn} IN @keys", new { appId, keys = chunk }, tx));
        return list;
    }

    private void Remember(DeviceState d)
    {
        _byInstallation[d.InstallationId] = d;
        if (d.AnonymousId is { } a) _byAnonymous[a] = d;
    }

    public async Task<OpResult> ApplyAsync(IngestOp op, long receivedAt)
    {
        switch (op)
        {
            case DeviceOp d:
                return new OpResult(op.Index, null, await UpsertDeviceAsync(d.Device, receivedAt));

            case IdentifyOp i:
                DeviceState? device = null;
                if (i.Who.InstallationId is { } inst)
                {
                    if (!_byInstallation.TryGetValue(inst, out device))
                        return Unknown(op.Index, "installationId", inst);
                }
                else if (i.Who.AnonymousId is { } anon)
                    device = await DeviceForAnonymousAsync(anon, null, receivedAt);
                if (i.UserId.Length == 0) return new OpResult(op.Index, null);
                var user = await UserAsync(i.UserId);
                if (device is not null) await LinkAsync(device, user);
                if (await ApplyTraitsAsync(user, i.Traits) is { } err) return new OpResult(op.Index, err);
                return new OpResult(op.Index, null);

            case AliasOp a:
                await AliasAsync(a, receivedAt);
                return new OpResult(op.Index, null);

            case EventOp e:
                var ev = e.Event;
                DeviceState? dev = null;
                if (ev.Who.InstallationId is { } id)
                {
                    if (!_byInstallation.TryGetValue(id, out dev))
                        return Unknown(op.Index, "installationId", id);
                }
                else if (ev.Who.AnonymousId is { } an)
                    dev = await DeviceForAnonymousAsync(an, ev.Platform, receivedAt);
                int? userOrdinal = dev?.UserOrdinal;
                if (ev.Who.UserId is { } uid)
                {
                    var u = await UserAsync(uid);
                    if (dev is not null && dev.UserOrdinal is null) await LinkAsync(dev, u);
                    userOrdinal = u.Ordinal;
                }
                if (dev is not null)
                    _seen[dev.Ordinal] = receivedAt;
                _events.Add((e, ev, dev?.Ordinal, userOrdinal));
                return new OpResult(op.Index, null);

            default:
                throw new InvalidOperationException($"Unknown op {op.GetType().Name}");
        }
    }

    private static OpResult Unknown(int index, string field, string value) =>
        new(index, new IngestError(field, $"{field} '{value}' is not registered with this app; register the device first (POST /sdk/v1/devices)."));

    // ---------------- devices ----------------

    private async Task<string> UpsertDeviceAsync(DeviceInput d, long receivedAt)
    {
        DeviceState? existing = null;
        if (d.InstallationId is { } inst) _byInstallation.TryGetValue(inst, out existing);
        if (existing is null && d.AnonymousId is { } anon) _byAnonymous.TryGetValue(anon, out existing);
        if (existing is null)
        {
            var created = await CreateDeviceAsync(d.Platform, d.AnonymousId, receivedAt);
            existing = created;
        }
        else if (d.Present.Contains("pushToken") && d.PushToken is { } token && await IsUninstalledWithOtherTokenAsync(existing, token))
            existing = await ReinstallAsync(existing, d.Platform, receivedAt);
        var sets = new List<string> { "platform = @Platform", "updated_at = @now", "last_seen_at = @now" };
        void Set(string field, string column, string param) { if (d.Present.Contains(field)) sets.Add($"{column} = @{param}"); }
        Set("pushToken", "push_token", "PushToken");
        Set("pushP256dh", "push_p256dh", "PushP256dh");
        Set("pushAuth", "push_auth", "PushAuth");
        Set("pushEnabled", "push_enabled", "PushEnabled");
        Set("timezone", "timezone", "Timezone");
        Set("locale", "locale", "Locale");
        Set("appVersion", "app_version", "AppVersion");
        Set("osVersion", "os_version", "OsVersion");
        Set("latitude", "latitude", "Latitude");
        Set("longitude", "longitude", "Longitude");
        if (d.Present.Contains("pushToken"))
        {
            sets.Add("token_updated_at = CASE WHEN push_token IS NULL OR push_token <> @PushToken THEN @now ELSE token_updated_at END");
        }
        // The token-change check above must read the old value, so it goes before the assignment.
        var tokenCase = sets.FindIndex(s => s.StartsWith("token_updated_at", StringComparison.Ordinal));
        if (tokenCase > 0) { var t = sets[tokenCase]; sets.RemoveAt(tokenCase); sets.Insert(0, t); }
        var p = new DynamicParameters(new
        {
            appId, now = receivedAt, ordinal = existing.Ordinal, d.Platform, d.PushToken, d.PushP256dh, d.PushAuth,
            PushEnabled = d.PushEnabled ?? false, d.Timezone, d.Locale, d.AppVersion, d.OsVersion, d.Latitude, d.Longitude,
        });
        await conn.ExecuteAsync($"UPDATE devices SET {string.Join(", ", sets)} WHERE app_id = @appId AND ordinal = @ordinal", p, tx);
        return existing.InstallationId;
    }

    // ---------------- re-installs (R-DLV-2) ----------------

    private Task<bool> IsUninstalledWithOtherTokenAsync(DeviceState device, string token) =>
        conn.ExecuteScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM devices WHERE app_id = @appId AND ordinal = @o AND uninstalled_at IS NOT NULL AND (push_token IS NULL OR push_token <> @token))",
            new { appId, o = device.Ordinal, token }, tx);

    /// <summary>
    /// An uninstalled device that comes back with a new token is a new installation: a new device
    /// (new installation id, answered to the SDK) takes over its user, anonymous id and settings and
    /// counts as a re-install; the old one stays uninstalled, so past uninstall counts hold.
    /// </summary>
    private async Task<DeviceState> ReinstallAsync(DeviceState old, string platform, long at)
    {
        if (old.AnonymousId is not null)
            await conn.ExecuteAsync("UPDATE devices SET anonymous_id = NULL WHERE app_id = @appId AND ordinal = @o", new { appId, o = old.Ordinal }, tx);
        var fresh = await CreateDeviceAsync(platform, old.AnonymousId, at);
        await conn.ExecuteAsync(
            """
            UPDATE devices SET (user_ordinal, timezone, locale, app_version, os_version, latitude, longitude) =
                (SELECT o.user_ordinal, o.timezone, o.locale, o.app_version, o.os_version, o.latitude, o.longitude FROM devices o WHERE o.app_id = @appId AND o.ordinal = @old),
                reinstalled_at = @at
            WHERE app_id = @appId AND ordinal = @fresh
            """, new { appId, old = old.Ordinal, fresh = fresh.Ordinal, at }, tx);
        await conn.ExecuteAsync("UPDATE devices SET reinstalled_as = @fresh WHERE app_id = @appId AND ordinal = @old", new { appId, old = old.Ordinal, fresh = fresh.Ordinal }, tx);
        fresh.UserOrdinal = old.UserOrdinal;
        return fresh;
    }

    /// <summary>
    /// A new device signed in as a user whose device of the same platform was uninstalled before this
    /// one appeared: the app was re-installed (the SDK lost its installation id with the app).
    /// </summary>
    private async Task CountReinstallAsync(DeviceState device, UserState user)
    {
        var old = await conn.ExecuteScalarAsync<int?>(
            """
            SELECT o.ordinal FROM devices o JOIN devices n ON n.app_id = o.app_id AND n.ordinal = @d
            WHERE o.app_id = @appId AND o.user_ordinal = @u AND o.ordinal <> @d AND o.platform = n.platform AND n.platform <> 'server'
              AND o.uninstalled_at IS NOT NULL AND o.uninstalled_at <= n.created_at AND o.reinstalled_as IS NULL AND n.reinstalled_at IS NULL
            ORDER BY o.uninstalled_at DESC LIMIT 1
            """, new { appId, d = device.Ordinal, u = user.Ordinal }, tx);
        if (old is null) return;
        await conn.ExecuteAsync("UPDATE devices SET reinstalled_as = @d WHERE app_id = @appId AND ordinal = @old", new { appId, d = device.Ordinal, old }, tx);
        await conn.ExecuteAsync("UPDATE devices SET reinstalled_at = @now WHERE app_id = @appId AND ordinal = @d", new { appId, d = device.Ordinal, now }, tx);
    }

    private async Task<DeviceState> DeviceForAnonymousAsync(string anonymousId, string? platform, long receivedAt) =>
        _byAnonymous.TryGetValue(anonymousId, out var d) ? d : await CreateDeviceAsync(platform ?? "server", anonymousId, receivedAt);

    private async Task<DeviceState> CreateDeviceAsync(string platform, string? anonymousId, long at)
    {
        var ordinal = await NextDeviceOrdinalAsync();
        var installationId = Guid.CreateVersion7().ToString();
        var inserted = await conn.ExecuteScalarAsync<int?>(
            """
            INSERT INTO devices (app_id, ordinal, installation_id, anonymous_id, platform, created_at, updated_at, last_seen_at)
            VALUES (@appId, @ordinal, @installationId, @anonymousId, @platform, @at, @at, @at)
            ON CONFLICT DO NOTHING RETURNING ordinal
            """, new { appId, ordinal, installationId, anonymousId, platform, at }, tx);
        DeviceState state;
        if (inserted is null)
        {
            // Another node created it first (same anonymous id): use theirs.
            state = await conn.QuerySingleAsync<DeviceState>(
                "SELECT ordinal AS Ordinal, installation_id AS InstallationId, anonymous_id AS AnonymousId, user_ordinal AS UserOrdinal FROM devices WHERE app_id = @appId AND anonymous_id = @anonymousId",
                new { appId, anonymousId }, tx);
        }
        else state = new DeviceState { Ordinal = ordinal, InstallationId = installationId, AnonymousId = anonymousId };
        Remember(state);
        return state;
    }

    private async Task<int> NextDeviceOrdinalAsync()
    {
        if (_devicePool.Next == _devicePool.End) _devicePool = await ReserveAsync("next_device_ordinal", _mayCreateDevices);
        return _devicePool.Next++;
    }

    private async Task<int> NextUserOrdinalAsync()
    {
        if (_userPool.Next == _userPool.End) _userPool = await ReserveAsync("next_user_ordinal", _mayCreateUsers);
        return _userPool.Next++;
    }

    private async Task<(int Next, int End)> ReserveAsync(string column, int expected)
    {
        var count = Math.Max(1, expected);
        var end = await conn.ExecuteScalarAsync<int>($"UPDATE apps SET {column} = {column} + @count WHERE id = @appId RETURNING {column}", new { appId, count }, tx);
        return (end - count, end);
    }

    /// <summary>Attaches a device to a user; an anonymous device's history becomes the user's (R-ID-2).</summary>
    private async Task LinkAsync(DeviceState device, UserState user)
    {
        if (device.UserOrdinal == user.Ordinal) return;
        var wasAnonymous = device.UserOrdinal is null;
        device.UserOrdinal = user.Ordinal;
        await conn.ExecuteAsync("UPDATE devices SET user_ordinal = @u, updated_at = @now WHERE app_id = @appId AND ordinal = @d",
            new { appId, u = user.Ordinal, d = device.Ordinal, now }, tx);
        if (!wasAnonymous) return;
        await CountReinstallAsync(device, user);
        await conn.ExecuteAsync("UPDATE events SET user_ordinal = @u WHERE app_id = @appId AND device_ordinal = @d AND user_ordinal IS NULL",
            new { appId, u = user.Ordinal, d = device.Ordinal }, tx);
        for (var i = 0; i < _events.Count; i++)
            if (_events[i].Device == device.Ordinal && _events[i].User is null)
                _events[i] = _events[i] with { User = user.Ordinal };
    }

    // ---------------- users ----------------

    private async Task<UserState> UserAsync(string externalId)
    {
        if (_users.TryGetValue(externalId, out var u)) return u;
        var ordinal = await NextUserOrdinalAsync();
        var inserted = await conn.ExecuteScalarAsync<int?>(
            """
            INSERT INTO users (app_id, ordinal, external_id, created_at, updated_at)
            VALUES (@appId, @ordinal, @externalId, @now, @now) ON CONFLICT DO NOTHING RETURNING ordinal
            """, new { appId, ordinal, externalId, now }, tx);
        if (inserted is null)
        {
            var row = await conn.QuerySingleAsync<UserRow>(
                "SELECT ordinal AS Ordinal, external_id AS ExternalId, merged_into AS MergedInto FROM users WHERE app_id = @appId AND external_id = @externalId",
                new { appId, externalId }, tx);
            ordinal = row.MergedInto ?? row.Ordinal;
        }
        return _users[externalId] = new UserState(ordinal);
    }

    private async Task<IngestError?> ApplyTraitsAsync(UserState user, UserTraits t)
    {
        if (t.Attributes.Count > 0)
        {
            _attributeTypes ??= (await conn.QueryAsync<(string name, string type)>(
                "SELECT name, type FROM attribute_types WHERE app_id = @appId", new { appId }, tx)).ToDictionary(x => x.name, x => x.type);
            foreach (var (name, value) in t.Attributes)
            {
                if (value.Raw is { ValueKind: JsonValueKind.Null }) continue;
                var type = Attributes.TypeName(value.Type);
                if (_attributeTypes.TryGetValue(name, out var known))
                {
                    // A date string written to a string attribute stays a string.
                    if (known == type || (known == "string" && type == "date")) continue;
                    return new IngestError($"attributes.{name}", $"Attribute '{name}' holds {known} values in this app; got {type}. Send a {known} or use another attribute name.");
                }
                await conn.ExecuteAsync("INSERT INTO attribute_types (app_id, name, type) VALUES (@appId, @name, @type) ON CONFLICT DO NOTHING",
                    new { appId, name, type }, tx);
                _attributeTypes[name] = type;
            }
            user.Attributes ??= JsonNode.Parse(await conn.ExecuteScalarAsync<string>(
                "SELECT attributes FROM users WHERE app_id = @appId AND ordinal = @o", new { appId, o = user.Ordinal }, tx) ?? "{}")!.AsObject();
            foreach (var (name, value) in t.Attributes)
            {
                if (value.Raw is { ValueKind: JsonValueKind.Null }) user.Attributes.Remove(name);
                else if (value.Type == AttributeType.Date && _attributeTypes[name] == "date") user.Attributes[name] = value.Date;
                else if (value.Type == AttributeType.Date) user.Attributes[name] = value.Raw is { } r ? JsonNode.Parse(r.GetRawText()) : value.Date;
                else user.Attributes[name] = JsonNode.Parse(value.Raw!.Value.GetRawText());
            }
        }
        var sets = new List<string> { "updated_at = @now" };
        if (t.Attributes.Count > 0) sets.Add("attributes = @attributes");
        if (t.Email is not null || t.ClearEmail)
        {
            // A suppression belongs to the address: a new address starts unsuppressed (SET reads the old email).
            sets.Add("email_suppressed_at = CASE WHEN email IS NULL OR @Email IS NULL OR lower(email) <> lower(@Email) THEN NULL ELSE email_suppressed_at END");
            sets.Add("email_suppression_reason = CASE WHEN email IS NULL OR @Email IS NULL OR lower(email) <> lower(@Email) THEN NULL ELSE email_suppression_reason END");
            sets.Add("email = @Email");
        }
        if (t.Phone is not null || t.ClearPhone) sets.Add("phone = @Phone");
        if (t.OptInPush is not null) sets.Add("optin_push = @OptInPush");
        if (t.OptInEmail is not null) sets.Add("optin_email = @OptInEmail");
        if (t.OptInSms is not null) sets.Add("optin_sms = @OptInSms");
        await conn.ExecuteAsync($"UPDATE users SET {string.Join(", ", sets)} WHERE app_id = @appId AND ordinal = @o",
            new { appId, o = user.Ordinal, now, attributes = user.Attributes?.ToJsonString(), t.Email, t.Phone, t.OptInPush, t.OptInEmail, t.OptInSms }, tx);
        return null;
    }

    private async Task AliasAsync(AliasOp a, long receivedAt)
    {
        var target = await UserAsync(a.UserId);
        if (_byAnonymous.TryGetValue(a.PreviousId, out var device))
        {
            await LinkAsync(device, target);
            return;
        }
        var old = await conn.QueryFirstOrDefaultAsync<UserRow>(
            "SELECT ordinal AS Ordinal, external_id AS ExternalId, merged_into AS MergedInto FROM users WHERE app_id = @appId AND external_id = @p AND deleted_at IS NULL",
            new { appId, p = a.PreviousId }, tx);
        if (old is not null && (old.MergedInto ?? old.Ordinal) != target.Ordinal)
        {
            // Merge the old user into the new one: devices, history, and attributes the new one lacks.
            var o = old.MergedInto ?? old.Ordinal;
            await conn.ExecuteAsync("UPDATE devices SET user_ordinal = @t WHERE app_id = @appId AND user_ordinal = @o", new { appId, t = target.Ordinal, o }, tx);
            await conn.ExecuteAsync("UPDATE events SET user_ordinal = @t WHERE app_id = @appId AND user_ordinal = @o", new { appId, t = target.Ordinal, o }, tx);
            var attrs = await conn.QueryAsync<string>("SELECT attributes FROM users WHERE app_id = @appId AND ordinal IN (@o, @t) ORDER BY CASE WHEN ordinal = @t THEN 1 ELSE 0 END",
                new { appId, o, t = target.Ordinal }, tx);
            var merged = new JsonObject();
            foreach (var json in attrs)
                foreach (var (k, v) in JsonNode.Parse(json)!.AsObject())
                    merged[k] = v?.DeepClone();
            target.Attributes = merged;
            await conn.ExecuteAsync("UPDATE users SET attributes = @a, updated_at = @now WHERE app_id = @appId AND ordinal = @t",
                new { appId, a = merged.ToJsonString(), t = target.Ordinal, now }, tx);
            await conn.ExecuteAsync("UPDATE users SET merged_into = @t, updated_at = @now WHERE app_id = @appId AND ordinal = @o",
                new { appId, t = target.Ordinal, o, now }, tx);
            foreach (var d in _byInstallation.Values.Where(d => d.UserOrdinal == o)) d.UserOrdinal = target.Ordinal;
            _users[a.PreviousId] = target;
            return;
        }
        if (old is null)
        {
            // An anonymous id we have not seen: remember it as this user's device.
            var created = await CreateDeviceAsync("server", a.PreviousId, receivedAt);
            await LinkAsync(created, target);
        }
    }

    // ---------------- events ----------------

    /// <summary>Writes the buffered events; returns the ops whose message id was already stored.</summary>
    public async Task<HashSet<IngestOp>> FlushAsync(List<StoredEvent> inserted)
    {
        var duplicates = new HashSet<IngestOp>(ReferenceEqualityComparer.Instance);
        if (_seen.Count > 0) await TouchDevicesAsync();
        if (_events.Count == 0) return duplicates;

        // Within one group the first of several equal message ids wins.
        var unique = new List<(EventOp Op, EventInput E, int? Device, int? User)>(_events.Count);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var x in _events)
            if (ids.Add(x.E.MessageId)) unique.Add(x); else duplicates.Add(x.Op);

        // Null: every row was stored.
        var stored = db.IsPostgres ? await CopyPostgresAsync(unique) : await InsertSqliteAsync(unique);
        foreach (var x in unique)
        {
            if (stored is null || stored.Contains(x.E.MessageId))
                inserted.Add(new StoredEvent(appId, x.E.MessageId, x.E.Name, x.Device, x.User, x.E.OccurredAt, x.E.Revenue, x.E.MessageRef));
            else duplicates.Add(x.Op);
        }
        return duplicates;
    }

    /// <summary>
    /// Devices heard from in this group get last_seen_at = the group's time. The ordinals go in
    /// ascending order so that concurrent writers lock device rows in one order.
    /// </summary>
    private async Task TouchDevicesAsync()
    {
        var ordinals = _seen.Keys.Order().ToArray();
        var at = _seen.Values.Max();
        if (db.IsPostgres)
        {
            await conn.ExecuteAsync(
                "UPDATE devices SET last_seen_at = @at WHERE app_id = @appId AND ordinal = ANY(@ordinals) AND last_seen_at < @at",
                new { appId, ordinals, at }, tx);
            return;
        }
        await using var cmd = (SqliteCommand)conn.CreateCommand();
        cmd.Transaction = (SqliteTransaction)tx;
        cmd.CommandText = "UPDATE devices SET last_seen_at = $t WHERE app_id = $a AND ordinal = $o AND last_seen_at < $t";
        cmd.Parameters.Add("$a", SqliteType.Integer).Value = appId;
        cmd.Parameters.Add("$t", SqliteType.Integer).Value = at;
        var po = cmd.Parameters.Add("$o", SqliteType.Integer);
        foreach (var o in ordinals) { po.Value = o; await cmd.ExecuteNonQueryAsync(); }
    }

    private async Task<HashSet<string>?> InsertSqliteAsync(List<(EventOp Op, EventInput E, int? Device, int? User)> rows)
    {
        var stored = new HashSet<string>(StringComparer.Ordinal);
        await using var cmd = (SqliteCommand)conn.CreateCommand();
        cmd.Transaction = (SqliteTransaction)tx;
        cmd.CommandText =
            """
            INSERT INTO events (app_id, message_id, name, device_ordinal, user_ordinal, occurred_at, received_at, properties,
                                revenue, currency, utm_source, utm_medium, utm_campaign, utm_term, utm_content)
            VALUES ($a, $m, $n, $d, $u, $o, $r, $p, $rev, $cur, $us, $um, $uc, $ut, $uco) ON CONFLICT DO NOTHING
            """;
        var ps = new[] { "$a", "$m", "$n", "$d", "$u", "$o", "$r", "$p", "$rev", "$cur", "$us", "$um", "$uc", "$ut", "$uco" }
            .Select(n => cmd.Parameters.Add(new SqliteParameter(n, null))).ToArray();
        cmd.Prepare();
        foreach (var (_, e, d, u) in rows)
        {
            ps[0].Value = appId; ps[1].Value = e.MessageId; ps[2].Value = e.Name;
            ps[3].Value = (object?)d ?? DBNull.Value; ps[4].Value = (object?)u ?? DBNull.Value;
            ps[5].Value = e.OccurredAt; ps[6].Value = now; ps[7].Value = e.PropertiesJson;
            ps[8].Value = (object?)e.Revenue ?? DBNull.Value; ps[9].Value = (object?)e.Currency ?? DBNull.Value;
            ps[10].Value = (object?)e.Utm.Source ?? DBNull.Value; ps[11].Value = (object?)e.Utm.Medium ?? DBNull.Value;
            ps[12].Value = (object?)e.Utm.Campaign ?? DBNull.Value; ps[13].Value = (object?)e.Utm.Term ?? DBNull.Value;
            ps[14].Value = (object?)e.Utm.Content ?? DBNull.Value;
            if (await cmd.ExecuteNonQueryAsync() == 1) stored.Add(e.MessageId);
        }
        return stored;
    }

    /// <summary>
    /// Retried batches are rare, so the fast path COPYs the rows straight into <c>events</c>. If any
    /// message id is already stored (a retry, or another node stored it first) the COPY fails on the
    /// primary key; then the batch goes through a staging table with ON CONFLICT DO NOTHING instead.
    /// </summary>
    private async Task<HashSet<string>?> CopyPostgresAsync(List<(EventOp Op, EventInput E, int? Device, int? User)> rows)
    {
        var pg = (NpgsqlConnection)conn;
        var ptx = (NpgsqlTransaction)tx;
        await ptx.SaveAsync("copy");
        try
        {
            await CopyAsync(pg, "events", rows);
            await ptx.ReleaseAsync("copy");
            return null;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            await ptx.RollbackAsync("copy");
        }

        await using (var create = new NpgsqlCommand("CREATE TEMP TABLE IF NOT EXISTS events_in (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", pg, ptx))
            await create.ExecuteNonQueryAsync();
        await CopyAsync(pg, "events_in", rows);
        var stored = new HashSet<string>(StringComparer.Ordinal);
        await using (var insert = new NpgsqlCommand("INSERT INTO events SELECT * FROM events_in ON CONFLICT DO NOTHING RETURNING message_id", pg, ptx))
        await using (var reader = await insert.ExecuteReaderAsync())
            while (await reader.ReadAsync()) stored.Add(reader.GetString(0));
        await using (var clear = new NpgsqlCommand("TRUNCATE events_in", pg, ptx))
            await clear.ExecuteNonQueryAsync();
        return stored;
    }

    private async Task CopyAsync(NpgsqlConnection pg, string table, List<(EventOp Op, EventInput E, int? Device, int? User)> rows)
    {
        // The rows are encoded in the binary COPY format by hand (UTF-8 text, the properties as they
        // came in) and sent in one write: cheaper than a typed write per column per row.
        using var encoded = new EventCopyRows(rows.Count * 256);
        encoded.Begin();
        foreach (var (_, e, d, u) in rows) encoded.Row(appId, e, d, u, now);
        encoded.End();
        await using var copy = await pg.BeginRawBinaryCopyAsync($"COPY {table} ({EventCopyRows.Columns}) FROM STDIN (FORMAT BINARY)");
        await copy.WriteAsync(encoded.Written);
    }

    internal sealed class DeviceState
    {
        public int Ordinal { get; init; }
        public required string InstallationId { get; init; }
        public string? AnonymousId { get; init; }
        public int? UserOrdinal { get; set; }
    }

    private sealed class UserState(int ordinal)
    {
        public int Ordinal { get; } = ordinal;
        public JsonObject? Attributes { get; set; }
    }

    private sealed class UserRow
    {
        public int Ordinal { get; init; }
        public string ExternalId { get; init; } = "";
        public int? MergedInto { get; init; }
    }
}
