using LlmMerge.Eval.Scoring;

namespace LlmMerge.Cli;

/// <summary>Shows an evaluation's progress on standard error (see <see cref="StatusLine"/>), always with a line when a task finishes.</summary>
public sealed class EvalProgressPrinter(TextWriter err, bool interactive) : IProgress<EvalProgress>
{
    private readonly StatusLine _status = new(err, interactive);

    /// <inheritdoc/>
    public void Report(EvalProgress p)
    {
        bool last = p.RowsDone == p.RowsTotal;
        if (!_status.Due(last))
            return;
        double rate = p.Elapsed.TotalSeconds > 0 ? p.RowsDone / p.Elapsed.TotalSeconds : 0;
        _status.Show($"eval: {p.Task} {p.RowsDone}/{p.RowsTotal} rows, {rate:F1} rows/s, {p.Elapsed.TotalSeconds:F1} s", last);
    }
}
