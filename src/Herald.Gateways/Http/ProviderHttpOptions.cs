using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Herald.Gateways.Http;

/// <summary>Connection, timeout and guard settings shared by every push provider.</summary>
public sealed class ProviderHttpOptions
{
    /// <summary>Recycle connections so a provider's DNS changes (and load balancing) reach us.</summary>
    public TimeSpan PooledConnectionLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Providers drop idle HTTP/2 connections after a few minutes anyway.</summary>
    public TimeSpan PooledConnectionIdleTimeout { get; set; } = TimeSpan.FromMinutes(2);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A provider slower than this is treated as transient (RetryLater), never as a dead token.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>In-flight requests per gateway (one gateway per credential). HTTP/2 multiplexes
    /// these over a few connections; 256 keeps a campaign fast without queueing thousands of streams.</summary>
    public int MaxConcurrentRequests { get; set; } = 256;

    /// <summary>Tests and loopback servers: also accept exactly this (self-signed) server certificate.</summary>
    public X509Certificate2? TrustedCertificate { get; set; }

    /// <summary>Replaces the default server-certificate check entirely when set.</summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; set; }

    /// <summary>Circuit breaker per credential: opens when this share of recent sends ended in a
    /// configuration error or a provider failure (5xx, timeout).</summary>
    public double CircuitFailureRatio { get; set; } = 0.5;

    /// <summary>Sends within <see cref="CircuitSamplingDuration"/> before the breaker may open; keeps a
    /// single bad device or a short blip from pausing a channel.</summary>
    public int CircuitMinimumThroughput { get; set; } = 20;

    public TimeSpan CircuitSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an open circuit answers RetryLater before letting one probe through.</summary>
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    internal void Validate(string section)
    {
        if (RequestTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"{section}:RequestTimeout must be positive, was {RequestTimeout}.");
        if (MaxConcurrentRequests < 1)
            throw new ArgumentException($"{section}:MaxConcurrentRequests must be at least 1, was {MaxConcurrentRequests}.");
        if (CircuitFailureRatio is <= 0 or > 1)
            throw new ArgumentException($"{section}:CircuitFailureRatio must be in (0, 1], was {CircuitFailureRatio}.");
        if (CircuitMinimumThroughput < 2)
            throw new ArgumentException($"{section}:CircuitMinimumThroughput must be at least 2, was {CircuitMinimumThroughput}.");
        if (CircuitSamplingDuration < TimeSpan.FromMilliseconds(500) || CircuitBreakDuration < TimeSpan.FromMilliseconds(500))
            throw new ArgumentException($"{section}: circuit sampling and break durations must be at least 0.5 s.");
    }
}
