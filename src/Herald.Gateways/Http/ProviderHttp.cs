using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Herald.Gateways.Http;

/// <summary>Builds the pooled HTTP/2 handler every push gateway sends through.</summary>
public static class ProviderHttp
{
    public static SocketsHttpHandler CreateHandler(ProviderHttpOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var handler = new SocketsHttpHandler
        {
            // One HTTP/2 connection caps at the server's stream limit (100 at Google and Apple);
            // a campaign needs more in flight than that.
            EnableMultipleHttp2Connections = true,
            PooledConnectionLifetime = options.PooledConnectionLifetime,
            PooledConnectionIdleTimeout = options.PooledConnectionIdleTimeout,
            ConnectTimeout = options.ConnectTimeout,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        if (options.ServerCertificateValidation is { } callback)
            handler.SslOptions.RemoteCertificateValidationCallback = callback;
        else if (options.TrustedCertificate is { } trusted)
            handler.SslOptions.RemoteCertificateValidationCallback = TrustOnly(trusted);
        return handler;
    }

    /// <summary>Accepts a chain the system trusts, or exactly <paramref name="trusted"/> with a matching host name.</summary>
    public static RemoteCertificateValidationCallback TrustOnly(X509Certificate2 trusted)
    {
        var raw = trusted.RawData;
        return (_, certificate, _, errors) =>
            errors == SslPolicyErrors.None
            || ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None
                && certificate is not null
                && certificate.GetRawCertData().AsSpan().SequenceEqual(raw));
    }
}
