using System.Diagnostics;
using System.Globalization;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Benchmarks;

/// <summary>
/// What libtorch's CPU SVD (torch.linalg.svd, full_matrices=False, float32) costs per tensor shape: the price of
/// tsv, iso_c and iso_cts, which decompose every 2-D task vector (tsv: T + 2 SVDs per tensor; iso_cts: T + 3).
/// </summary>
public static class SvdBenchmark
{
    /// <summary>The zoo's shapes and the merge benchmark's (hidden 1024, intermediate 2816, kv 256, vocab 32000).</summary>
    public static readonly long[][] Shapes =
    [
        [128, 128], [344, 128], [128, 344], [512, 128],
        [256, 1024], [1024, 1024], [2816, 1024], [1024, 2816], [32000, 1024],
    ];

    public static int Run(int rounds)
    {
        TorchRuntime.Initialize();
        Console.WriteLine($"torch.linalg.svd(full_matrices=False), float32, {get_num_threads()} threads, best of {rounds}");
        Console.WriteLine("| shape | wall seconds | CPU seconds | GFLOP/s of wall (4mn² + 8n³, m ≥ n) |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        var self = Process.GetCurrentProcess();
        var gen = new TorchSharp.torch.Generator(1);
        foreach (var shape in Shapes)
        {
            using var scope = NewDisposeScope();
            var a = randn(shape, generator: gen);
            double best = double.MaxValue, bestCpu = double.MaxValue;
            for (int r = 0; r < rounds; r++)
            {
                self.Refresh();
                var cpu = self.TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                var (u, s, vh) = linalg.svd(a, fullMatrices: false);
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
                self.Refresh();
                bestCpu = Math.Min(bestCpu, (self.TotalProcessorTime - cpu).TotalSeconds);
                u.Dispose();
                s.Dispose();
                vh.Dispose();
            }
            double m = Math.Max(shape[0], shape[1]), n = Math.Min(shape[0], shape[1]);
            double gflop = (4 * m * n * n + 8 * n * n * n) / 1e9;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {shape[0]} × {shape[1]} | {best:F3} | {bestCpu:F3} | {gflop / best:F1} |"));
        }
        return 0;
    }
}
