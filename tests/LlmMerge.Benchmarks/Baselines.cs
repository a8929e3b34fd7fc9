using LlmMerge.Core.Models;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Benchmarks;

/// <summary>
/// What our merges are measured against: the I/O floor, and each method computed the way mergekit computes it
/// (arcee-ai/mergekit a6e40288: merge_methods/generalized_task_arithmetic.py, sparsify.py, linear.py, slerp.py), op
/// for op on the same libtorch: float32 task vectors, a full argsort or sort per delta where mergekit sorts, float
/// masks scattered from indices, stacked deltas, sign election over the stack, masked sums.
/// </summary>
public static class Baselines
{
    /// <summary>Reads every byte of the given models' shards once (from the page cache when warm).</summary>
    public static long ReadEveryByte(string dir, IEnumerable<string> models)
    {
        long sum = 0;
        var buf = new byte[1 << 22];
        foreach (var model in models)
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

    /// <summary>Merges the benchmark's recipe for <paramref name="method"/> mergekit's way into <paramref name="outDir"/> (bf16).</summary>
    public static void MergekitStyle(string method, string dir, string outDir)
    {
        var names = BenchmarkRecipes.Models(method);
        var models = names.Select(m => ModelFolder.Open(Path.Combine(dir, m))).ToList();
        Directory.CreateDirectory(outDir);
        var tensorNames = models[0].TensorNames;
        using var writer = new ShardedModelWriter(outDir, tensorNames.Select(n => (n, SafetensorsDType.BF16, models[0].GetInfo(n).Shape)).ToList());
        using var generator = new Generator(0);
        foreach (var name in tensorNames)
        {
            using var scope = NewDisposeScope();
            var loaded = models.Select(m => TensorBridge.Load(m.GetFile(name), m.GetInfo(name), ScalarType.Float32, CPU)).ToList();
            var result = method switch
            {
                "linear" => Linear(loaded),
                "slerp" => Slerp(BenchmarkRecipes.T, loaded[0], loaded[1]),
                _ => TaskArithmetic(method, loaded[0], loaded.Skip(1).ToList(), generator),
            };
            TensorBridge.Store(result, ScalarType.BFloat16, (off, bytes) => writer.Write(name, bytes, off));
        }
        writer.Complete();
        foreach (var m in models)
            m.Dispose();
    }

    private static Tensor TaskArithmetic(string method, Tensor b, List<Tensor> experts, Generator generator)
    {
        var deltas = new List<Tensor>();
        foreach (var x in experts)
        {
            var delta = x - b;
            deltas.Add(method switch
            {
                "ties" => Magnitude(delta, BenchmarkRecipes.Density),
                "dare_ties" => RescaledMasked(delta, bernoulli(full_like(delta, BenchmarkRecipes.Density), generator)),
                "breadcrumbs" => MagnitudeOutliers(delta, BenchmarkRecipes.Density, BenchmarkRecipes.Gamma),
                "della" => DellaMagprune(delta, BenchmarkRecipes.Density, BenchmarkRecipes.Epsilon, generator),
                _ => delta,
            });
        }
        var stacked = stack(deltas, 0);
        var weights = tensor(BenchmarkRecipes.Weights, ScalarType.Float32);
        while (weights.dim() < stacked.dim())
            weights = weights.unsqueeze(-1);
        var weighted = stacked * weights;
        Tensor mixed, divisor;
        if (method is "ties" or "dare_ties" or "della")
        {
            var sign = weighted.sign();
            var majority = (weighted.sum(0) >= 0).to(ScalarType.Float32) * 2 - 1;
            var mask = sign == majority;
            mixed = (weighted * mask).sum(0);
            divisor = (weights * mask).sum(0);
            divisor.masked_fill_(divisor.eq(0), 1);
            mixed = mixed / divisor; // these recipes normalize
        }
        else
        {
            mixed = weighted.sum(0);
        }
        return b + mixed;
    }

    /// <summary>sparsify.magnitude: the k largest |delta| by a full descending argsort.</summary>
    private static Tensor Magnitude(Tensor delta, double density)
    {
        long k = (long)(density * delta.numel());
        var mask = zeros_like(delta);
        var w = delta.abs().view(-1);
        var topk = argsort(w, descending: true).narrow(0, 0, k);
        mask.view(-1).index_put_(ones(k), topk);
        return delta * mask;
    }

    /// <summary>sparsify.magnitude_outliers: drop the top gamma and the smallest, by a full ascending sort.</summary>
    private static Tensor MagnitudeOutliers(Tensor delta, double density, double gamma)
    {
        long n = delta.numel();
        long target = (long)(density * n), nTop = (long)(gamma * n), nBot = n - target - nTop;
        if (nBot < 0)
        {
            nTop += nBot;
            nBot = 0;
        }
        var indices = delta.abs().view(-1).sort(0, descending: false).Indices;
        var mask = zeros_like(delta);
        if (nTop > 0 && n - nTop > nBot)
            mask.view(-1).index_put_(ones(n - nTop - nBot), indices.narrow(0, nBot, n - nTop - nBot));
        return delta * mask;
    }

    /// <summary>sparsify.della_magprune: per-row ranks by two argsorts, keep probabilities density ± epsilon, a Bernoulli mask, L1 rescale.</summary>
    private static Tensor DellaMagprune(Tensor delta, double density, double epsilon, Generator generator)
    {
        var shape = delta.shape;
        var rows = delta.dim() < 2 ? delta.unsqueeze(0) : delta;
        var ranks = argsort(argsort(rows.abs(), dim: 1), dim: 1).to(ScalarType.Float32) + 1;
        var min = ranks.amin([1], keepdim: true);
        var max = ranks.amax([1], keepdim: true);
        var rankNorm = ((ranks - min) / (max - min)).clamp(0, 1);
        var probs = rankNorm * (2 * epsilon) + (density - epsilon);
        var mask = bernoulli(probs, generator);
        return RescaledMasked(rows, mask).reshape(shape);
    }

    /// <summary>sparsify.rescaled_masked_tensor with the L1 norm.</summary>
    private static Tensor RescaledMasked(Tensor t, Tensor mask)
    {
        var masked = t * mask;
        double before = t.abs().sum().item<float>(), after = masked.abs().sum().item<float>();
        return before < 1e-7 || after < 1e-7 ? masked : masked * (before / after);
    }

    /// <summary>linear.py: stacked models times weights, summed, divided by the summed weights.</summary>
    private static Tensor Linear(List<Tensor> models)
    {
        var stacked = stack(models, 0);
        var weights = tensor(new[] { BenchmarkRecipes.BaseWeightInLinear }.Concat(BenchmarkRecipes.Weights).ToArray(), ScalarType.Float32);
        while (weights.dim() < stacked.dim())
            weights = weights.unsqueeze(-1);
        return (weights * stacked).sum(0) / weights.sum(0);
    }

    /// <summary>slerp.py (numpy there; the same operations here): normalise copies, dot, angles, the weighted sum.</summary>
    private static Tensor Slerp(double t, Tensor v0, Tensor v1)
    {
        var a = v0.clone();
        var b = v1.clone();
        double na = a.norm().item<float>(), nb = b.norm().item<float>();
        var u0 = na > 1e-8 ? a / na : a;
        var u1 = nb > 1e-8 ? b / nb : b;
        double dot = (u0 * u1).sum().item<float>();
        if (Math.Abs(dot) > 0.9995)
            return a * (1 - t) + b * t;
        double theta0 = Math.Acos(dot), sinTheta0 = Math.Sin(theta0), thetaT = theta0 * t;
        return a * (Math.Sin(theta0 - thetaT) / sinTheta0) + b * (Math.Sin(thetaT) / sinTheta0);
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
