using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Herald.Gateways.WebPush;

/// <summary>
/// RFC 8291 message encryption with the RFC 8188 "aes128gcm" content coding: one record, so the
/// whole push fits the 4096-byte limit push services enforce.
/// </summary>
public static class WebPushEncryption
{
    public const int RecordSize = 4096;
    /// <summary>4096 − 16 (salt) − 4 (rs) − 1 (idlen) − 65 (key id) − 16 (tag) − 1 (delimiter).</summary>
    public const int MaxPlaintextLength = 3993;

    private const int SaltLength = 16;
    private const int PublicKeyLength = 65;
    private const int AuthSecretLength = 16;
    private const int TagLength = 16;
    private const byte LastRecordDelimiter = 0x02;

    /// <summary>Encrypts with a fresh salt and a fresh sender key pair, as every message must.</summary>
    public static byte[] Encrypt(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> uaPublicKey, ReadOnlySpan<byte> authSecret)
    {
        Span<byte> salt = stackalloc byte[SaltLength];
        RandomNumberGenerator.Fill(salt);
        using var sender = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        return Encrypt(plaintext, uaPublicKey, authSecret, salt, sender);
    }

    /// <summary>Fixed salt and sender key: only for reproducing the RFC 8291 Appendix A vector.</summary>
    internal static byte[] Encrypt(
        ReadOnlySpan<byte> plaintext,
        ReadOnlySpan<byte> uaPublicKey,
        ReadOnlySpan<byte> authSecret,
        ReadOnlySpan<byte> salt,
        ECDiffieHellman sender)
    {
        if (plaintext.Length > MaxPlaintextLength)
            throw new ArgumentException($"Web push plaintext is {plaintext.Length} bytes; the limit is {MaxPlaintextLength}.", nameof(plaintext));
        if (uaPublicKey.Length != PublicKeyLength || uaPublicKey[0] != 0x04)
            throw new ArgumentException("The subscription's p256dh key must be an uncompressed P-256 point (65 bytes starting 0x04).", nameof(uaPublicKey));
        if (authSecret.Length != AuthSecretLength)
            throw new ArgumentException("The subscription's auth secret must be 16 bytes.", nameof(authSecret));
        if (salt.Length != SaltLength)
            throw new ArgumentException("The salt must be 16 bytes.", nameof(salt));

        byte[] asPublic = EncodePoint(sender.ExportParameters(includePrivateParameters: false).Q);
        byte[] ecdhSecret;
        using (var ua = ImportPublicKey(uaPublicKey))
            ecdhSecret = sender.DeriveRawSecretAgreement(ua.PublicKey);

        var (cek, nonce) = DeriveKeys(ecdhSecret, authSecret, uaPublicKey, asPublic, salt);

        int headerLength = SaltLength + 4 + 1 + PublicKeyLength;
        int cipherLength = plaintext.Length + 1;
        var body = new byte[headerLength + cipherLength + TagLength];
        salt.CopyTo(body);
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(SaltLength), RecordSize);
        body[SaltLength + 4] = PublicKeyLength;
        asPublic.CopyTo(body.AsSpan(SaltLength + 5));

        var padded = new byte[cipherLength];
        plaintext.CopyTo(padded);
        padded[^1] = LastRecordDelimiter;

        using var aes = new AesGcm(cek, TagLength);
        aes.Encrypt(nonce, padded, body.AsSpan(headerLength, cipherLength), body.AsSpan(headerLength + cipherLength, TagLength));
        return body;
    }

    /// <summary>CEK and nonce for one record (sequence number 0), per RFC 8291 section 3.4 and RFC 8188 section 2.2.</summary>
    internal static (byte[] Cek, byte[] Nonce) DeriveKeys(
        ReadOnlySpan<byte> ecdhSecret, ReadOnlySpan<byte> authSecret,
        ReadOnlySpan<byte> uaPublic, ReadOnlySpan<byte> asPublic, ReadOnlySpan<byte> salt)
    {
        byte[] prkKey = HKDF.Extract(HashAlgorithmName.SHA256, ecdhSecret.ToArray(), authSecret.ToArray());
        byte[] keyInfo = [.. "WebPush: info\0"u8, .. uaPublic, .. asPublic];
        byte[] ikm = HKDF.Expand(HashAlgorithmName.SHA256, prkKey, 32, keyInfo);
        byte[] prk = HKDF.Extract(HashAlgorithmName.SHA256, ikm, salt.ToArray());
        byte[] cek = HKDF.Expand(HashAlgorithmName.SHA256, prk, 16, "Content-Encoding: aes128gcm\0"u8.ToArray());
        byte[] nonce = HKDF.Expand(HashAlgorithmName.SHA256, prk, 12, "Content-Encoding: nonce\0"u8.ToArray());
        return (cek, nonce);
    }

    internal static ECDiffieHellman ImportPublicKey(ReadOnlySpan<byte> uncompressed) =>
        ECDiffieHellman.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = uncompressed[1..33].ToArray(), Y = uncompressed[33..65].ToArray() },
        });

    internal static byte[] EncodePoint(ECPoint q) => [0x04, .. q.X!, .. q.Y!];
}
