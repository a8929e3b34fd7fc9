using Microsoft.Extensions.Logging;

namespace LlmMerge.Cluster;

/// <summary>Orleans' own warnings and errors, one line each on standard error ("orleans: ..."), so they never read as a job's output.</summary>
internal sealed class WarningLogger(TextWriter err) : ILoggerProvider, ILogger
{
    private readonly TextWriter _err = TextWriter.Synchronized(err);

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
            return;
        string text = formatter(state, exception).ReplaceLineEndings(" ");
        // Orleans' start-up advice about server GC concerns services, not a worker running one job per process.
        if (text.StartsWith("Note: ", StringComparison.Ordinal))
            return;
        if (text.Length > 400)
            text = text[..400] + "…";
        _err.WriteLine($"orleans {logLevel.ToString().ToLowerInvariant()}: {text}");
        _err.Flush();
    }

    public void Dispose()
    {
    }
}
