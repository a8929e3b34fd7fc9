using System.Diagnostics;
using LlmMerge.Execution;

namespace LlmMerge.Cli;

/// <summary>
/// Shows a merge's progress on standard error: redrawn in place on a terminal, a line every few seconds
/// elsewhere (build logs, CI), and always a final line with the totals.
/// </summary>
public sealed class ProgressPrinter : IProgress<MergeProgress>
{
    private readonly TextWriter _err;
    private readonly bool _interactive;
    private readonly Stopwatch _sinceLast = Stopwatch.StartNew();
    private readonly TimeSpan _interval;

    public ProgressPrinter(TextWriter err, bool interactive)
    {
        _err = err;
        _interactive = interactive;
        _interval = interactive ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(2);
    }

    public void Report(MergeProgress p)
    {
        bool last = p.TensorsDone == p.TensorsTotal;
        if (!last && _sinceLast.Elapsed < _interval)
            return;
        _sinceLast.Restart();
        double gb = p.BytesRead / 1e9, total = p.BytesTotal / 1e9;
        double rate = p.Elapsed.TotalSeconds > 0 ? gb / p.Elapsed.TotalSeconds : 0;
        string line = $"merge: {p.TensorsDone}/{p.TensorsTotal} tensors, {gb:F2}/{total:F2} GB read, {rate:F2} GB/s, {p.Elapsed.TotalSeconds:F1} s";
        if (_interactive)
            _err.Write("\r" + line + (last ? "\n" : $"  {Truncate(p.Current, 48)}\u001b[K"));
        else
            _err.WriteLine(line);
    }

    private static string Truncate(string s, int n) => s.Length <= n ? s : "…" + s[^(n - 1)..];
}
