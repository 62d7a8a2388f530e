using System.Security.Cryptography;
using System.Text;

namespace Herald.Server.Accounts;

/// <summary>
/// Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): 30-second steps, 6 digits, HMAC-SHA1
/// for authenticator apps; SHA-256/512 are here for the RFC's test vectors.
/// </summary>
public static class Totp
{
    public const int StepSeconds = 30;

    public static long Step(DateTimeOffset at, int stepSeconds = StepSeconds) => at.ToUnixTimeSeconds() / stepSeconds;

    public static string Code(byte[] secret, long step, int digits = 6, HashAlgorithmName? algorithm = null)
    {
        Span<byte> counter = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(counter, step);
        var alg = algorithm ?? HashAlgorithmName.SHA1;
        byte[] mac = alg == HashAlgorithmName.SHA256 ? HMACSHA256.HashData(secret, counter)
            : alg == HashAlgorithmName.SHA512 ? HMACSHA512.HashData(secret, counter)
            : alg == HashAlgorithmName.SHA1 ? HMACSHA1.HashData(secret, counter)
            : throw new ArgumentException($"Unsupported TOTP algorithm {alg}.", nameof(algorithm));
        // Dynamic truncation (RFC 4226 §5.3).
        var offset = mac[^1] & 0x0f;
        var binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
        var modulo = 1;
        for (var i = 0; i < digits; i++) modulo *= 10;
        return (binary % modulo).ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(digits, '0');
    }

    /// <summary>
    /// The step a code matches, allowing one step of clock drift either way; null when none does or
    /// when the step is not after <paramref name="lastUsedStep"/> (a code is good once).
    /// </summary>
    public static long? Verify(byte[] secret, string? code, DateTimeOffset now, long? lastUsedStep)
    {
        code = code?.Replace(" ", "", StringComparison.Ordinal);
        if (code is not { Length: 6 } || !code.All(char.IsAsciiDigit)) return null;
        var current = Step(now);
        for (var s = current - 1; s <= current + 1; s++)
        {
            if (lastUsedStep is { } used && s <= used) continue;
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Code(secret, s)), Encoding.ASCII.GetBytes(code)))
                return s;
        }
        return null;
    }

    public static byte[] NewSecret() => RandomNumberGenerator.GetBytes(20);

    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    /// <summary>RFC 4648 base32 without padding, the form authenticator apps take.</summary>
    public static string ToBase32(byte[] data)
    {
        var sb = new StringBuilder((data.Length * 8 + 4) / 5);
        int buffer = 0, bits = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                sb.Append(Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }
        if (bits > 0) sb.Append(Alphabet[(buffer << (5 - bits)) & 31]);
        return sb.ToString();
    }

    public static byte[] FromBase32(string text)
    {
        var output = new List<byte>(text.Length * 5 / 8);
        int buffer = 0, bits = 0;
        foreach (var c in text.TrimEnd('=').ToUpperInvariant())
        {
            var v = Alphabet.IndexOf(c, StringComparison.Ordinal);
            if (v < 0) throw new FormatException($"'{c}' is not a base32 character.");
            buffer = (buffer << 5) | v;
            bits += 5;
            if (bits >= 8)
            {
                output.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
        }
        return [.. output];
    }

    public static string OtpAuthUri(string issuer, string account, byte[] secret) =>
        $"otpauth://totp/{Uri.EscapeDataString(issuer)}:{Uri.EscapeDataString(account)}?secret={ToBase32(secret)}&issuer={Uri.EscapeDataString(issuer)}&period={StepSeconds}&digits=6";
}
