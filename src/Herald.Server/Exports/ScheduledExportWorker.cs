using Microsoft.Extensions.Options;

namespace Herald.Server.Exports;

/// <summary>Writes due scheduled exports; every node runs one, and the claim keeps them from writing the same export twice.</summary>
public sealed partial class ScheduledExportWorker(ExportService exports, IOptions<ExportOptions> options, TimeProvider clock, ILogger<ScheduledExportWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.WorkerEnabled) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await exports.RunDueAsync(stoppingToken); }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested) { LogFailed(logger, e); }
            try { await Task.Delay(options.Value.Poll, clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Scheduled export pass failed; trying again at the next poll")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
