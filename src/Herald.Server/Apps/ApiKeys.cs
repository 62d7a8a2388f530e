using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Apps;

public enum KeyKind { Sdk, Rest }

/// <summary>Who is calling: the app a key belongs to, and what the key may do.</summary>
public sealed record AppCaller(long AppId, KeyKind Kind, long KeyId);

/// <summary>
/// Keys are 32 random bytes shown once; only their SHA-256 is stored (they carry full entropy, so a
/// slow password hash would add nothing but latency on every SDK call). Lookups are cached briefly:
/// a revoked key stops working on this node at once and on other nodes within <see cref="CacheFor"/>.
/// </summary>
public sealed class ApiKeys(Db db, TimeProvider clock)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, (AppCaller? Caller, string? IpAllow, DateTimeOffset Until)> _cache = new();

    public static string NewSecret(string prefix) =>
        prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static string PrefixOf(string key) => key.Length > 12 ? key[..12] : key;

    public async Task<AppCaller?> ResolveAsync(string key, IPAddress? remote, CancellationToken ct)
    {
        if (key.Length is < 8 or > 200) return null;
        var hash = Hash(key);
        var now = clock.GetUtcNow();
        if (!_cache.TryGetValue(hash, out var hit) || hit.Until < now)
        {
            await using var conn = await db.OpenAsync(ct);
            var row = await conn.QueryFirstOrDefaultAsync<(long app_id, long id, string kind, string? ip_allow)?>(
                "SELECT app_id, id, kind, ip_allow FROM api_keys WHERE key_hash = @hash AND revoked_at IS NULL", new { hash });
            hit = row is { } r
                ? (new AppCaller(r.app_id, r.kind == "rest" ? KeyKind.Rest : KeyKind.Sdk, r.id), r.ip_allow, now + CacheFor)
                : (null, null, now + CacheFor);
            _cache[hash] = hit;
        }
        if (hit.Caller is null) return null;
        if (hit.IpAllow is { Length: > 0 } allow && !IpAllowed(allow, remote))
            throw new ProblemException(403, "Address not allowed",
                $"This key is restricted to {allow}; the request came from {remote?.ToString() ?? "an unknown address"}.", "Authorization");
        return hit.Caller;
    }

    public void Forget(string keyHash) => _cache.TryRemove(keyHash, out _);

    public void ForgetAll() => _cache.Clear();

    internal static bool IpAllowed(string allowList, IPAddress? remote)
    {
        if (remote is null) return false;
        if (remote.IsIPv4MappedToIPv6) remote = remote.MapToIPv4();
        foreach (var item in allowList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (IPNetwork.TryParse(item, out var net) && net.Contains(remote)) return true;
            if (IPAddress.TryParse(item, out var one) && one.Equals(remote)) return true;
        }
        return false;
    }

    public static void ValidateAllowList(string? allowList)
    {
        if (string.IsNullOrWhiteSpace(allowList)) return;
        foreach (var item in allowList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            if (!IPNetwork.TryParse(item, out _) && !IPAddress.TryParse(item, out _))
                throw ProblemException.BadRequest($"'{item}' is not an IP address or CIDR range (e.g. 10.0.0.0/8).", "ipAllowList");
    }
}

/// <summary>
/// Endpoint parameter types that authenticate the caller. <see cref="SdkAuth"/> accepts the public
/// SDK key or a REST key; <see cref="RestAuth"/> only a REST key. Keys arrive as
/// <c>Authorization: Bearer KEY</c>, HTTP Basic with the key as user name (Segment style), or
/// <c>X-Herald-Key</c>.
/// </summary>
public sealed record SdkAuth(AppCaller Caller)
{
    public long AppId => Caller.AppId;

    public static async ValueTask<SdkAuth?> BindAsync(HttpContext http) =>
        new(await KeyAuth.RequireAsync(http, KeyKind.Sdk));
}

public sealed record RestAuth(AppCaller Caller)
{
    public long AppId => Caller.AppId;

    public static async ValueTask<RestAuth?> BindAsync(HttpContext http) =>
        new(await KeyAuth.RequireAsync(http, KeyKind.Rest));
}

public static class KeyAuth
{
    public static string? ReadKey(HttpRequest request)
    {
        var auth = request.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return auth[7..].Trim();
        if (auth.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var raw = Encoding.UTF8.GetString(Convert.FromBase64String(auth[6..].Trim()));
                var colon = raw.IndexOf(':');
                return colon >= 0 ? raw[..colon] : raw;
            }
            catch (FormatException)
            {
                throw ProblemException.Unauthorized("The Basic authorization header is not valid base64.");
            }
        }
        var header = request.Headers["X-Herald-Key"].ToString();
        return header.Length > 0 ? header : null;
    }

    public static async Task<AppCaller> RequireAsync(HttpContext http, KeyKind needed, string? keyFromBody = null)
    {
        var key = ReadKey(http.Request) ?? keyFromBody;
        if (string.IsNullOrEmpty(key))
            throw ProblemException.Unauthorized("No API key: send 'Authorization: Bearer <key>' (or HTTP Basic with the key as user name).");
        var keys = http.RequestServices.GetRequiredService<ApiKeys>();
        var caller = await keys.ResolveAsync(key, http.Connection.RemoteIpAddress, http.RequestAborted)
            ?? throw ProblemException.Unauthorized("The API key is unknown or revoked.");
        if (needed == KeyKind.Rest && caller.Kind != KeyKind.Rest)
            throw new ProblemException(403, "REST key required",
                "This endpoint needs a server REST API key; the public SDK key may only register devices and send events.", "Authorization");
        return caller;
    }
}
