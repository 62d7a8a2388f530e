using System.Security.Cryptography;
using System.Text;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Apps;

/// <summary>Herald:Security.</summary>
public sealed class SecurityOptions
{
    public const string Section = "Herald:Security";
    /// <summary>
    /// 32 random bytes, base64: the key that encrypts provider credentials and VAPID private keys at
    /// rest. Unset: a key file <c>master.key</c> in the data folder, made on first start (one node).
    /// Several nodes on one PostgreSQL database need the same key: set it on every node.
    /// </summary>
    public string? MasterKey { get; set; }
}

/// <summary>
/// Secrets Herald must use, not just check (provider credentials, VAPID private keys), are kept
/// encrypted: AES-256-GCM with a random nonce, and the row they belong to as associated data, so a
/// value copied into another app's row does not decrypt. Stored as <c>enc:v1:</c> + base64(nonce |
/// ciphertext | tag). Values written before encryption existed are read as they are and encrypted
/// at the next start (<see cref="AppService.EncryptStoredSecretsAsync"/>).
/// </summary>
public sealed class SecretBox(IOptions<SecurityOptions> security, IOptions<StorageOptions> storage)
{
    private const string Prefix = "enc:v1:";
    private readonly Lazy<byte[]> _key = new(() => LoadKey(security.Value, storage.Value));

    public static bool IsProtected(string? stored) => stored?.StartsWith(Prefix, StringComparison.Ordinal) == true;

    public string Protect(string plaintext, string context)
    {
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var sealedBytes = new byte[12 + plain.Length + 16];
        var nonce = sealedBytes.AsSpan(0, 12);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key.Value, 16);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(12, plain.Length), sealedBytes.AsSpan(12 + plain.Length), Encoding.UTF8.GetBytes(context));
        return Prefix + Convert.ToBase64String(sealedBytes);
    }

    /// <summary>The plaintext of a stored value (a value from before encryption is returned as it is).</summary>
    public string Unprotect(string stored, string context)
    {
        if (!IsProtected(stored)) return stored;
        var data = Convert.FromBase64String(stored[Prefix.Length..]);
        var plain = new byte[data.Length - 28];
        try
        {
            using var aes = new AesGcm(_key.Value, 16);
            aes.Decrypt(data.AsSpan(0, 12), data.AsSpan(12, plain.Length), data.AsSpan(12 + plain.Length), plain, Encoding.UTF8.GetBytes(context));
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new CryptographicException(
                $"A stored secret ({context}) does not decrypt with this node's master key: every node must have the same Herald:Security:MasterKey (or share one data folder's master.key).");
        }
        return Encoding.UTF8.GetString(plain);
    }

    private static byte[] LoadKey(SecurityOptions o, StorageOptions s)
    {
        if (o.MasterKey is { Length: > 0 } configured)
        {
            byte[] key;
            try { key = Convert.FromBase64String(configured); }
            catch (FormatException) { throw new InvalidOperationException("Herald:Security:MasterKey must be 32 bytes in base64 (openssl rand -base64 32)."); }
            return key.Length == 32 ? key : throw new InvalidOperationException($"Herald:Security:MasterKey is {key.Length} bytes; it must be 32 (openssl rand -base64 32).");
        }
        var path = Path.Combine(s.DataDirectory, "master.key");
        if (File.Exists(path)) return Convert.FromBase64String(File.ReadAllText(path).Trim());
        Directory.CreateDirectory(s.DataDirectory);
        var fresh = RandomNumberGenerator.GetBytes(32);
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // readable by Herald's user only
            using var f = new FileStream(path, options);
            f.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(fresh)));
        }
        catch (IOException) when (File.Exists(path))
        {
            return Convert.FromBase64String(File.ReadAllText(path).Trim()); // another node in this folder made it first
        }
        return fresh;
    }
}
