using Microsoft.Extensions.Options;

namespace Herald.Server.Predictions;

/// <summary>Trains the models due for their daily refresh; each node runs one, and a lease keeps two from training the same model.</summary>
public sealed partial class PredictionWorker(PredictionService predictions, IOptions<PredictionOptions> options, TimeProvider clock, ILogger<PredictionWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.WorkerEnabled) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await predictions.RefreshDueAsync(stoppingToken); }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested) { LogFailed(logger, e); }
            try { await Task.Delay(options.Value.Poll, clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Predictive model refresh failed; trying again at the next poll")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
