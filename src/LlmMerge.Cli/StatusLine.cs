using System.Diagnostics;

namespace LlmMerge.Cli;

/// <summary>
/// One status line on standard error: redrawn in place on a terminal (at most five times a second), a line every
/// two seconds elsewhere (build logs, CI), and always the last one.
/// </summary>
public sealed class StatusLine
{
    private readonly TextWriter _err;
    private readonly Stopwatch _sinceLast = Stopwatch.StartNew();
    private readonly TimeSpan _interval;

    public StatusLine(TextWriter err, bool interactive)
    {
        _err = err;
        Interactive = interactive;
        _interval = interactive ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(2);
    }

    public bool Interactive { get; }

    /// <summary>Whether a report is due now; the <paramref name="last"/> one always is.</summary>
    public bool Due(bool last)
    {
        if (!last && _sinceLast.Elapsed < _interval)
            return false;
        _sinceLast.Restart();
        return true;
    }

    /// <summary>Shows <paramref name="line"/>; on a terminal <paramref name="detail"/> follows it until the last line.</summary>
    public void Show(string line, bool last, string detail = "")
    {
        if (Interactive)
            _err.Write("\r" + line + (last ? "\n" : detail + "\u001b[K"));
        else
            _err.WriteLine(line);
    }
}
