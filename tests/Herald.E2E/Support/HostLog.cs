using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Herald.E2E.Support;

/// <summary>
/// The host's warnings and errors, kept so that a failing browser step can say what the server was
/// doing (a 500, a lock wait) instead of only that a page never came.
/// </summary>
public sealed class HostLog : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <summary>The last <paramref name="count"/> lines, oldest first.</summary>
    public string Tail(int count = 20)
    {
        var all = _lines.ToArray();
        return all.Length == 0 ? "(no warnings or errors logged)" : string.Join('\n', all.Skip(Math.Max(0, all.Length - count)));
    }

    public void Dispose() { }

    private sealed class Logger(HostLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            log._lines.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}");
            while (log._lines.Count > 500) log._lines.TryDequeue(out _);
        }
    }
}
