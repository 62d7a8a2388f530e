using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Herald.Sim.Providers.WebPush;

/// <summary>The claims of a VAPID token whose signature checked out.</summary>
public sealed record VapidClaims(string Audience, long Expires, string? Subject, string PublicKey);

/// <summary>
/// Checks an RFC 8292 <c>Authorization: vapid t=…, k=…</c> header the way a push service does.
/// Written apart from the gateway's signer so the two check each other.
/// </summary>
public static class VapidVerifier
{
    /// <summary>Parses the header and verifies the ES256 signature with the k= key; null with a reason when it fails.</summary>
    public static VapidClaims? Verify(string? authorization, out string reason)
    {
        reason = "";
        if (authorization is null || !authorization.StartsWith("vapid ", StringComparison.OrdinalIgnoreCase))
        {
            reason = "Authorization is not a vapid credential";
            return null;
        }
        string? t = null, k = null;
        foreach (var part in authorization[6..].Split(','))
        {
            var kv = part.Trim();
            if (kv.StartsWith("t=", StringComparison.Ordinal)) t = kv[2..];
            else if (kv.StartsWith("k=", StringComparison.Ordinal)) k = kv[2..];
        }
        if (t is null || k is null)
        {
            reason = "vapid credential lacks t= or k=";
            return null;
        }
        return VerifyJwt(t, k, out reason);
    }

    public static VapidClaims? VerifyJwt(string jwt, string publicKey, out string reason)
    {
        reason = "";
        try
        {
            var parts = jwt.Split('.');
            if (parts.Length != 3) { reason = "JWT must have three parts"; return null; }
            var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0])).RootElement;
            if (header.GetProperty("alg").GetString() != "ES256") { reason = "JWT alg must be ES256"; return null; }

            byte[] q = Base64Url.DecodeFromChars(publicKey);
            if (q.Length != 65 || q[0] != 4) { reason = "k= is not an uncompressed P-256 point"; return null; }
            using var key = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = q[1..33], Y = q[33..65] },
            });
            byte[] signature = Base64Url.DecodeFromChars(parts[2]);
            if (signature.Length != 64 || !key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature, HashAlgorithmName.SHA256))
            {
                reason = "JWT signature does not verify with k=";
                return null;
            }
            var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1])).RootElement;
            return new VapidClaims(
                claims.GetProperty("aud").GetString() ?? "",
                claims.GetProperty("exp").GetInt64(),
                claims.TryGetProperty("sub", out var sub) ? sub.GetString() : null,
                publicKey);
        }
        catch (Exception e) when (e is FormatException or JsonException or KeyNotFoundException or InvalidOperationException or CryptographicException)
        {
            reason = "malformed VAPID token: " + e.Message;
            return null;
        }
    }
}
