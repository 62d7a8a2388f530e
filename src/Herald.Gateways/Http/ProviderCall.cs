using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Authentication;

namespace Herald.Gateways.Http;

/// <summary>A provider's answer, read in full: status, headers and body bytes.</summary>
internal readonly record struct ProviderAnswer(int Status, HttpResponseHeaders Headers, byte[] Body);

/// <summary>One HTTP exchange with a timeout, turning network trouble into outcomes.</summary>
internal static class ProviderCall
{
    // Timeout sources are reused: a fresh source and timer per request shows up at campaign rates.
    private static readonly ConcurrentQueue<CancellationTokenSource> TimeoutPool = new();
    private const int MaxPooled = 1024;

    /// <summary>
    /// Sends and reads the whole answer. A timeout or a broken connection is RetryLater — the device
    /// is never blamed for the network. An untrusted certificate or a server that will not speak
    /// HTTP/2 is a configuration error. The caller's own cancellation propagates.
    /// </summary>
    public static async ValueTask<(ProviderAnswer Answer, SendOutcome? Failure)> SendAsync(
        HttpMessageInvoker invoker, HttpRequestMessage request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!TimeoutPool.TryDequeue(out var cts))
            cts = new CancellationTokenSource();
        cts.CancelAfter(timeout);
        var link = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), cts)
            : default;
        try
        {
            using var response = await invoker.SendAsync(request, cts.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false);
            return (new ProviderAnswer((int)response.StatusCode, response.Headers, body), null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (default, SendOutcome.Retry(Backoff.Exponential(TimeSpan.FromSeconds(1), 1), $"timeout: no answer within {timeout.TotalSeconds:0.###} s"));
        }
        catch (HttpRequestException e) when (e.InnerException is AuthenticationException)
        {
            return (default, SendOutcome.Misconfigured($"TLS: the provider's certificate was not accepted ({e.InnerException.Message})"));
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.VersionNegotiationError)
        {
            return (default, SendOutcome.Misconfigured($"the provider endpoint does not speak HTTP/2: {e.Message}"));
        }
        catch (HttpRequestException e)
        {
            return (default, SendOutcome.Retry(Backoff.Exponential(TimeSpan.FromSeconds(1), 1), $"connection failed: {e.Message}"));
        }
        finally
        {
            link.Dispose();
            if (TimeoutPool.Count < MaxPooled && cts.TryReset())
                TimeoutPool.Enqueue(cts);
            else
                cts.Dispose();
        }
    }

    /// <summary>Retry-After as a delay (either form), if the provider sent one.</summary>
    public static TimeSpan? RetryAfter(HttpResponseHeaders headers, TimeProvider time)
    {
        if (headers.RetryAfter is not { } value)
            return null;
        if (value.Delta is { } delta)
            return delta;
        if (value.Date is { } date)
        {
            var wait = date - time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return null;
    }
}
