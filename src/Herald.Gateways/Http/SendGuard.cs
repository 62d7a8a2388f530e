using Polly;
using Polly.CircuitBreaker;

namespace Herald.Gateways.Http;

/// <summary>
/// What stands between a gateway and the network, per credential: the quota pacer, a bound on
/// in-flight requests and a circuit breaker that stops hammering a provider that keeps refusing our
/// credentials or failing. None of these ever blames a device: they answer RetryLater.
/// </summary>
internal sealed class SendGuard : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly TokenBucket? _quota;
    private readonly ResiliencePipeline<SendOutcome> _pipeline;
    private readonly TimeSpan _breakDuration;
    private string? _openReason;

    public SendGuard(ProviderHttpOptions options, TokenBucket? quota, TimeProvider time)
    {
        _slots = new SemaphoreSlim(options.MaxConcurrentRequests, options.MaxConcurrentRequests);
        _quota = quota;
        _breakDuration = options.CircuitBreakDuration;
        _pipeline = new ResiliencePipelineBuilder<SendOutcome> { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<SendOutcome>
            {
                FailureRatio = options.CircuitFailureRatio,
                MinimumThroughput = options.CircuitMinimumThroughput,
                SamplingDuration = options.CircuitSamplingDuration,
                BreakDuration = options.CircuitBreakDuration,
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is not null || IsProviderFailure(args.Outcome.Result)),
                OnOpened = args =>
                {
                    _openReason = args.Outcome.Result?.Reason ?? args.Outcome.Exception?.Message;
                    return default;
                },
            })
            .Build();
    }

    /// <summary>Configuration errors and provider-side failures count; device-level answers do not.</summary>
    internal static bool IsProviderFailure(SendOutcome? outcome) => outcome switch
    {
        { Kind: OutcomeKind.ConfigError } => true,
        { Kind: OutcomeKind.RetryLater, StatusCode: null or >= 500 } => true,
        _ => false,
    };

    public async Task<SendOutcome> RunAsync<TState>(Func<TState, CancellationToken, ValueTask<SendOutcome>> send, TState state, CancellationToken cancellationToken)
    {
        if (_quota is not null && !_quota.TryTake(out var wait))
            return SendOutcome.Retry(wait, "local quota pacing: the provider's per-minute quota is used up");
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await _pipeline.ExecuteAsync(send, state, cancellationToken).ConfigureAwait(false);
        }
        catch (BrokenCircuitException e)
        {
            return SendOutcome.Retry(e.RetryAfter ?? _breakDuration, $"circuit open after repeated failures: {_openReason}");
        }
        finally
        {
            _slots.Release();
        }
    }

    public void Dispose() => _slots.Dispose();
}
