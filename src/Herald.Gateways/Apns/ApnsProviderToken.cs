using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Herald.Gateways.Apns;

/// <summary>
/// The ES256 provider token, reused for every request until it is <c>refreshAfter</c> old (Apple
/// wants 20 to 60 minutes between refreshes).
/// </summary>
internal sealed class ApnsProviderToken : IDisposable
{
    /// <summary>The ready header value and when it was issued.</summary>
    internal sealed record Token(string AuthorizationValue, DateTimeOffset IssuedAt);

    private readonly ECDsa _key;
    private readonly string _teamId;
    private readonly string _keyId;
    private readonly TimeProvider _time;
    private readonly TimeSpan _refreshAfter;
    private readonly Lock _gate = new();
    private Token? _current;
    private int _issued;

    public ApnsProviderToken(ApnsCredentials credentials, TimeProvider time, TimeSpan refreshAfter)
    {
        _teamId = credentials.TeamId;
        _keyId = credentials.KeyId;
        _time = time;
        _refreshAfter = refreshAfter;
        _key = ECDsa.Create();
        try
        {
            _key.ImportFromPem(credentials.PrivateKeyPem);
        }
        catch (ArgumentException e)
        {
            _key.Dispose();
            throw new ArgumentException($"The APNs key (.p8) is not a PEM EC private key: {e.Message}", nameof(credentials), e);
        }
        if (_key.KeySize != 256)
        {
            _key.Dispose();
            throw new ArgumentException($"The APNs key must be a P-256 key; this one is {_key.KeySize} bits.", nameof(credentials));
        }
    }

    /// <summary>Tokens signed so far.</summary>
    public int Issued => Volatile.Read(ref _issued);

    public Token Current()
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && _time.GetUtcNow() - current.IssuedAt < _refreshAfter)
            return current;
        lock (_gate)
        {
            current = _current;
            if (current is not null && _time.GetUtcNow() - current.IssuedAt < _refreshAfter)
                return current;
            var fresh = Sign();
            Volatile.Write(ref _current, fresh);
            return fresh;
        }
    }

    /// <summary>Apple said <paramref name="stale"/> expired: sign a new one, unless another send already did.</summary>
    public Token Replace(Token stale)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_current, stale) && _current is not null)
                return _current;
            var fresh = Sign();
            Volatile.Write(ref _current, fresh);
            return fresh;
        }
    }

    private Token Sign()
    {
        Interlocked.Increment(ref _issued);
        var now = _time.GetUtcNow();
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("alg", "ES256");
            writer.WriteString("kid", _keyId);
            writer.WriteEndObject();
        }
        var header = Base64Url.EncodeToString(buffer.WrittenSpan);
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("iss", _teamId);
            writer.WriteNumber("iat", now.ToUnixTimeSeconds());
            writer.WriteEndObject();
        }
        var signingInput = header + "." + Base64Url.EncodeToString(buffer.WrittenSpan);
        // JWS wants r‖s (IEEE P1363), not the DER that ECDsa produces by default elsewhere.
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return new Token("bearer " + signingInput + "." + Base64Url.EncodeToString(signature), now);
    }

    public void Dispose() => _key.Dispose();
}
