using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Herald.Sim.Providers.WebPush;

/// <summary>
/// The user agent's half of RFC 8291: decrypts an aes128gcm push body with the subscription's
/// private key and auth secret, as a browser would. Any mistake in the sender's encryption makes
/// this throw.
/// </summary>
public static class PushDecryptor
{
    public static byte[] Decrypt(ReadOnlySpan<byte> body, ECDiffieHellman uaKey, ReadOnlySpan<byte> authSecret)
    {
        if (body.Length < 21) throw new CryptographicException("body shorter than the aes128gcm header");
        var salt = body[..16];
        uint rs = BinaryPrimitives.ReadUInt32BigEndian(body[16..20]);
        int idlen = body[20];
        if (idlen != 65) throw new CryptographicException($"keyid must be the 65-byte sender key, got {idlen} bytes");
        if (rs < 18) throw new CryptographicException($"record size {rs} is below the minimum");
        var asPublic = body.Slice(21, 65);
        var record = body[(21 + 65)..];
        if (record.Length > rs) throw new CryptographicException("web push allows one record only");
        if (record.Length < 17) throw new CryptographicException("record too short");

        byte[] uaPublic = Point(uaKey.ExportParameters(false).Q);
        using var sender = ECDiffieHellman.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = asPublic[1..33].ToArray(), Y = asPublic[33..65].ToArray() },
        });
        byte[] ecdh = uaKey.DeriveRawSecretAgreement(sender.PublicKey);

        // RFC 8291 section 3.3/3.4, written out with HMAC so it checks the sender's HKDF use.
        byte[] prkKey = HMACSHA256.HashData(authSecret, ecdh);
        byte[] ikm = HMACSHA256.HashData(prkKey, (byte[])[.. "WebPush: info\0"u8, .. uaPublic, .. asPublic, 0x01]);
        byte[] prk = HMACSHA256.HashData(salt, ikm);
        byte[] cek = HMACSHA256.HashData(prk, (byte[])[.. "Content-Encoding: aes128gcm\0"u8, 0x01])[..16];
        byte[] nonce = HMACSHA256.HashData(prk, (byte[])[.. "Content-Encoding: nonce\0"u8, 0x01])[..12];

        var cipher = record[..^16];
        var tag = record[^16..];
        var padded = new byte[cipher.Length];
        using (var aes = new AesGcm(cek, 16))
            aes.Decrypt(nonce, cipher, tag, padded);

        // Strip padding: trailing zeros, then the delimiter, which must be 0x02 for the last record.
        int end = padded.Length - 1;
        while (end >= 0 && padded[end] == 0) end--;
        if (end < 0 || padded[end] != 0x02) throw new CryptographicException("last record must end with the 0x02 delimiter");
        return padded[..end];
    }

    public static byte[] Point(ECPoint q) => [0x04, .. q.X!, .. q.Y!];
}
