using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Gateways.Http;

namespace Herald.Gateways.Fcm;

/// <summary>
/// OAuth2 for a service account (RFC 7523 JWT bearer grant): a self-signed RS256 assertion is
/// exchanged at the token URI for an access token, which is cached until shortly before it expires.
/// Concurrent sends share one refresh. Written on System.Security.Cryptography rather than
/// Google.Apis.Auth so the exchange uses our pooled handler, our TimeProvider and our timeouts, and
/// its failures map onto outcomes instead of the library's own retries.
/// </summary>
internal sealed class FcmAccessTokens : IDisposable
{
    internal const string Scope = "https://www.googleapis.com/auth/firebase.messaging";

    /// <summary>A usable token: the ready-made header value is what the hot path needs.</summary>
    internal sealed record Token(string AuthorizationValue, DateTimeOffset RefreshAt);

    private readonly FcmCredentials _credentials;
    private readonly Uri _tokenUri;
    private readonly RSA _key;
    private readonly HttpMessageInvoker _http;
    private readonly TimeProvider _time;
    private readonly TimeSpan _margin;
    private readonly TimeSpan _timeout;
    private readonly Lock _gate = new();
    private Token? _current;
    private Task<(Token? Token, SendOutcome? Failure)>? _refresh;
    private int _requests;

    public FcmAccessTokens(FcmCredentials credentials, Uri tokenUri, HttpMessageInvoker http, TimeProvider time, TimeSpan margin, TimeSpan timeout)
    {
        _credentials = credentials;
        _tokenUri = tokenUri;
        _http = http;
        _time = time;
        _margin = margin;
        _timeout = timeout;
        _key = RSA.Create();
        try
        {
            _key.ImportFromPem(credentials.PrivateKeyPem);
        }
        catch (ArgumentException e)
        {
            _key.Dispose();
            throw new ArgumentException($"The service-account private_key is not a PEM RSA key: {e.Message}", nameof(credentials), e);
        }
    }

    /// <summary>Token requests made so far (for diagnostics and tests).</summary>
    public int Requests => Volatile.Read(ref _requests);

    public ValueTask<(Token? Token, SendOutcome? Failure)> GetAsync(CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && _time.GetUtcNow() < current.RefreshAt)
            return new((current, null));
        return new(SharedRefresh().WaitAsync(cancellationToken));
    }

    /// <summary>Drops <paramref name="stale"/> after the server refused it, unless another send already replaced it.</summary>
    public void Invalidate(Token stale) => Interlocked.CompareExchange(ref _current, null, stale);

    private Task<(Token?, SendOutcome?)> SharedRefresh()
    {
        lock (_gate)
        {
            var current = _current;
            if (current is not null && _time.GetUtcNow() < current.RefreshAt)
                return Task.FromResult<(Token?, SendOutcome?)>((current, null));
            if (_refresh is { IsCompleted: false } running)
                return running;
            return _refresh = RefreshAsync();
        }
    }

    private async Task<(Token?, SendOutcome?)> RefreshAsync()
    {
        Interlocked.Increment(ref _requests);
        using var request = new HttpRequestMessage(HttpMethod.Post, _tokenUri)
        {
            Version = HttpVersion20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            Content = new FormUrlEncodedContent(
            [
                new("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                new("assertion", CreateAssertion()),
            ]),
        };
        // Not tied to one caller's cancellation: other sends wait on this refresh too.
        var (answer, failure) = await ProviderCall.SendAsync(_http, request, _timeout, CancellationToken.None).ConfigureAwait(false);
        if (failure is not null)
            return (null, failure with { Reason = $"OAuth token endpoint {_tokenUri}: {failure.Reason}" });
        if (answer.Status >= 500)
            return (null, SendOutcome.Retry(Backoff.Exponential(TimeSpan.FromSeconds(1), 1), $"OAuth token endpoint {_tokenUri} answered {answer.Status}", answer.Status));
        if (answer.Status != 200)
            return (null, SendOutcome.Misconfigured($"OAuth token endpoint refused the service account {_credentials.ClientEmail}: {answer.Status} {Describe(answer.Body)}", answer.Status));
        try
        {
            using var json = JsonDocument.Parse(answer.Body);
            var root = json.RootElement;
            var accessToken = root.GetProperty("access_token").GetString();
            var expiresIn = root.TryGetProperty("expires_in", out var e) && e.TryGetInt32(out var seconds) ? seconds : 3600;
            if (string.IsNullOrEmpty(accessToken) || expiresIn <= 0)
                throw new JsonException("access_token or expires_in missing");
            var lifetime = TimeSpan.FromSeconds(expiresIn);
            var margin = _margin < lifetime / 2 ? _margin : lifetime / 2;
            var token = new Token("Bearer " + accessToken, _time.GetUtcNow() + lifetime - margin);
            Volatile.Write(ref _current, token);
            return (token, null);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return (null, SendOutcome.Misconfigured($"OAuth token endpoint {_tokenUri} gave an unreadable answer: {e.Message}", answer.Status));
        }
    }

    private static readonly Version HttpVersion20 = new(2, 0);

    private static string Describe(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            var error = root.TryGetProperty("error", out var e) ? e.ToString() : "";
            var description = root.TryGetProperty("error_description", out var d) ? d.GetString() : null;
            return description is null ? error : $"{error}: {description}";
        }
        catch (JsonException)
        {
            return Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 200)));
        }
    }

    /// <summary>The RS256 JWT assertion: iss, scope, aud = token URI, iat, exp = iat + 1 h (Google's maximum).</summary>
    internal string CreateAssertion()
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("alg", "RS256");
            writer.WriteString("typ", "JWT");
            if (_credentials.PrivateKeyId is { } kid)
                writer.WriteString("kid", kid);
            writer.WriteEndObject();
        }
        var header = Base64Url.EncodeToString(buffer.WrittenSpan);
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("iss", _credentials.ClientEmail);
            writer.WriteString("scope", Scope);
            writer.WriteString("aud", _tokenUri.AbsoluteUri);
            writer.WriteNumber("iat", now);
            writer.WriteNumber("exp", now + 3600);
            writer.WriteEndObject();
        }
        var signingInput = header + "." + Base64Url.EncodeToString(buffer.WrittenSpan);
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    public void Dispose() => _key.Dispose();
}
