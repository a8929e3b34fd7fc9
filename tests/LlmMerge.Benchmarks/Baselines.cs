using LlmMerge.Core.Models;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Benchmarks;

/// <summary>What our merge is measured against: the I/O floor, and TIES computed the way mergekit computes it.</summary>
public static class Baselines
{
    private static readonly string[] Experts = ["expert-1", "expert-2", "expert-3"];
    private static readonly double[] Weights = [1.0, 0.8, 0.6];

    /// <summary>Reads every byte of every input shard once (from the page cache when warm).</summary>
    public static long ReadEveryByte(string dir)
    {
        long sum = 0;
        var buf = new byte[1 << 22];
        foreach (var model in Experts.Prepend("base"))
        {
            foreach (var f in Directory.GetFiles(Path.Combine(dir, model), "*.safetensors"))
            {
                using var s = File.OpenRead(f);
                int n;
                while ((n = s.Read(buf)) > 0)
                    sum += buf[n - 1];
            }
        }
        return sum;
    }

    /// <summary>
    /// mergekit's GTA path for TIES, op for op: float32 task vectors, a full argsort of each |delta| for its
    /// top-k, a float mask scattered from the indices, stacked deltas, sign election over the stack, masked sums.
    /// </summary>
    public static void MergekitStyleTies(string dir, string outDir)
    {
        var models = Experts.Prepend("base").Select(m => ModelFolder.Open(Path.Combine(dir, m))).ToList();
        Directory.CreateDirectory(outDir);
        var names = models[0].TensorNames;
        using var writer = new ShardedModelWriter(outDir, names.Select(n => (n, SafetensorsDType.BF16, models[0].GetInfo(n).Shape)).ToList());
        foreach (var name in names)
        {
            using var scope = NewDisposeScope();
            var loaded = models.Select(m => TensorBridge.Load(m.GetFile(name), m.GetInfo(name), ScalarType.Float32, CPU)).ToList();
            var b = loaded[0];
            var deltas = new List<Tensor>();
            for (int i = 1; i < loaded.Count; i++)
            {
                var delta = loaded[i] - b;
                long k = (long)(0.5 * delta.numel());
                var mask = zeros_like(delta);
                var w = delta.abs().view(-1);
                var topk = argsort(w, descending: true).narrow(0, 0, k);
                mask.view(-1).index_put_(ones(k), topk);
                deltas.Add(delta * mask);
            }
            var stacked = stack(deltas, 0);
            var weights = tensor(Weights, ScalarType.Float32);
            while (weights.dim() < stacked.dim())
                weights = weights.unsqueeze(-1);
            var weighted = stacked * weights;
            var sign = weighted.sign();
            var majority = (weighted.sum(0) >= 0).to(ScalarType.Float32) * 2 - 1;
            var agree = (sign == majority).to(ScalarType.Float32);
            var mixed = (weighted * agree).sum(0);
            var divisor = (weights * agree).sum(0);
            divisor.masked_fill_(divisor.eq(0), 1);
            var result = b + mixed / divisor;
            TensorBridge.Store(result, ScalarType.BFloat16, (off, bytes) => writer.Write(name, bytes, off));
        }
        writer.Complete();
        foreach (var m in models)
            m.Dispose();
    }

    /// <summary>This process's peak resident set (VmHWM), in GB.</summary>
    public static double PeakRssGb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1e6;
        }
        return double.NaN;
    }
}
