using LlmMerge.Engine.Execution;

namespace LlmMerge.Cli;

/// <summary>Shows a merge's progress on standard error (see <see cref="StatusLine"/>), with a final line of totals.</summary>
public sealed class ProgressPrinter(TextWriter err, bool interactive, string verb = "merge") : IProgress<MergeProgress>
{
    private readonly StatusLine _status = new(err, interactive);

    public void Report(MergeProgress p)
    {
        bool last = p.TensorsDone == p.TensorsTotal;
        if (!_status.Due(last))
            return;
        double gb = p.BytesRead / 1e9, total = p.BytesTotal / 1e9;
        double rate = p.Elapsed.TotalSeconds > 0 ? gb / p.Elapsed.TotalSeconds : 0;
        _status.Show($"{verb}: {p.TensorsDone}/{p.TensorsTotal} tensors, {gb:F2}/{total:F2} GB read, {rate:F2} GB/s, {p.Elapsed.TotalSeconds:F1} s",
            last, $"  {Truncate(p.Current, 48)}");
    }

    private static string Truncate(string s, int n) => s.Length <= n ? s : "…" + s[^(n - 1)..];
}
