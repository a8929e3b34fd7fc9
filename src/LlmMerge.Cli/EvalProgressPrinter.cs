using System.Diagnostics;
using LlmMerge.Evaluation.Scoring;

namespace LlmMerge.Cli;

/// <summary>
/// Shows an evaluation's progress on standard error: redrawn in place on a terminal, a line every few seconds
/// elsewhere, and always a line when a task finishes.
/// </summary>
public sealed class EvalProgressPrinter : IProgress<EvalProgress>
{
    private readonly TextWriter _err;
    private readonly bool _interactive;
    private readonly Stopwatch _sinceLast = Stopwatch.StartNew();
    private readonly TimeSpan _interval;

    /// <summary>A printer to <paramref name="err"/>; <paramref name="interactive"/> redraws one line.</summary>
    public EvalProgressPrinter(TextWriter err, bool interactive)
    {
        _err = err;
        _interactive = interactive;
        _interval = interactive ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(2);
    }

    /// <inheritdoc/>
    public void Report(EvalProgress p)
    {
        bool last = p.RowsDone == p.RowsTotal;
        if (!last && _sinceLast.Elapsed < _interval)
            return;
        _sinceLast.Restart();
        double rate = p.Elapsed.TotalSeconds > 0 ? p.RowsDone / p.Elapsed.TotalSeconds : 0;
        string line = $"eval: {p.Task} {p.RowsDone}/{p.RowsTotal} rows, {rate:F1} rows/s, {p.Elapsed.TotalSeconds:F1} s";
        if (_interactive)
            _err.Write("\r" + line + (last ? "\n" : "\u001b[K"));
        else
            _err.WriteLine(line);
    }
}
