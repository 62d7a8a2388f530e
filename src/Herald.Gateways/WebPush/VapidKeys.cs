using System.Buffers.Text;
using System.Security.Cryptography;

namespace Herald.Gateways.WebPush;

/// <summary>
/// An application server's VAPID key pair (RFC 8292), generated once per app. <see cref="PublicKey"/>
/// is the uncompressed P-256 point (65 bytes) in base64url: the web SDK passes it to
/// <c>PushManager.subscribe</c> as <c>applicationServerKey</c>. <see cref="PrivateKey"/> is the
/// 32-byte scalar d in base64url and never leaves the server.
/// </summary>
public sealed record VapidKeys(string PublicKey, string PrivateKey)
{
    public static VapidKeys Generate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var p = key.ExportParameters(includePrivateParameters: true);
        return new VapidKeys(Base64Url.EncodeToString(WebPushEncryption.EncodePoint(p.Q)), Base64Url.EncodeToString(p.D));
    }

    /// <summary>Rebuilds the signing key, checking that the two halves belong together.</summary>
    public ECDsa ToECDsa()
    {
        byte[] q = DecodeField(PublicKey, 65, nameof(PublicKey));
        byte[] d = DecodeField(PrivateKey, 32, nameof(PrivateKey));
        if (q[0] != 0x04)
            throw new FormatException("VAPID PublicKey must be an uncompressed P-256 point (first byte 0x04).");
        var key = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            D = d,
            Q = new ECPoint { X = q[1..33], Y = q[33..65] },
        });
        try
        {
            // ImportParameters does not always check that Q = d·G; a mismatched pair would sign
            // tokens every push service rejects, so prove it now.
            byte[] probe = "herald-vapid-probe"u8.ToArray();
            using var pub = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = q[1..33], Y = q[33..65] } });
            if (!pub.VerifyData(probe, key.SignData(probe, HashAlgorithmName.SHA256), HashAlgorithmName.SHA256))
                throw new CryptographicException("VAPID PublicKey does not match PrivateKey.");
            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static byte[] DecodeField(string value, int length, string name)
    {
        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(value.Trim().TrimEnd('='));
        }
        catch (FormatException)
        {
            throw new FormatException($"VAPID {name} is not base64url.");
        }
        return bytes.Length == length ? bytes : throw new FormatException($"VAPID {name} must decode to {length} bytes, got {bytes.Length}.");
    }
}
