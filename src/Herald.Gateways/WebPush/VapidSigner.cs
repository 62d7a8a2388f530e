using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Herald.Gateways.WebPush;

/// <summary>
/// Produces the RFC 8292 <c>Authorization: vapid t=…, k=…</c> header. One JWT per push service
/// origin is reused until shortly before it expires: signing per message would cost an ECDSA
/// signature per push for nothing.
/// </summary>
public sealed class VapidSigner : IDisposable
{
    /// <summary>RFC 8292 section 2: exp must be no more than 24 hours ahead; 12 h leaves room for clock skew.</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(12);
    /// <summary>Renew this long before exp so a token never expires in flight or on a skewed push service.</summary>
    public static readonly TimeSpan RenewBefore = TimeSpan.FromMinutes(30);

    private readonly ECDsa _key;
    private readonly string _publicKey;
    private readonly string _subject;
    private readonly TimeSpan _lifetime;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (string Header, DateTimeOffset Expires)> _byOrigin = new(StringComparer.Ordinal);

    public VapidSigner(VapidKeys keys, string subject, TimeProvider time, TimeSpan? lifetime = null)
    {
        if (!subject.StartsWith("mailto:", StringComparison.Ordinal) && !subject.StartsWith("https:", StringComparison.Ordinal))
            throw new ArgumentException($"VAPID subject must be a mailto: or https: contact URI, got '{subject}'.", nameof(subject));
        _lifetime = lifetime ?? DefaultLifetime;
        if (_lifetime <= RenewBefore || _lifetime > TimeSpan.FromHours(24))
            throw new ArgumentOutOfRangeException(nameof(lifetime), $"VAPID token lifetime must be over {RenewBefore} and at most 24 hours.");
        _key = keys.ToECDsa();
        _publicKey = keys.PublicKey.Trim().TrimEnd('=');
        _subject = subject;
        _time = time;
    }

    /// <summary>The value of the Authorization header for a push to <paramref name="endpoint"/>.</summary>
    public string GetAuthorization(Uri endpoint)
    {
        string audience = Origin(endpoint);
        var now = _time.GetUtcNow();
        if (_byOrigin.TryGetValue(audience, out var cached) && now < cached.Expires - RenewBefore)
            return cached.Header;

        // Whole seconds, as JWT NumericDate; truncating keeps exp within the 24 h bound.
        var expires = DateTimeOffset.FromUnixTimeSeconds((now + _lifetime).ToUnixTimeSeconds());
        string header = $"vapid t={CreateJwt(_key, audience, expires, _subject)}, k={_publicKey}";
        _byOrigin[audience] = (header, expires);
        return header;
    }

    /// <summary>scheme://host[:port], the port only when it is not the scheme's default.</summary>
    public static string Origin(Uri endpoint) =>
        endpoint.GetLeftPart(UriPartial.Authority).ToLowerInvariant();

    internal static string CreateJwt(ECDsa key, string audience, DateTimeOffset expires, string subject)
    {
        string header = Base64Url.EncodeToString("{\"typ\":\"JWT\",\"alg\":\"ES256\"}"u8);
        var claims = new Dictionary<string, object> { ["aud"] = audience, ["exp"] = expires.ToUnixTimeSeconds(), ["sub"] = subject };
        string body = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(claims));
        string signingInput = header + "." + body;
        // .NET signs in the IEEE P1363 r‖s form JWS requires (RFC 7518 section 3.4), not DER.
        byte[] signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    public void Dispose() => _key.Dispose();
}
