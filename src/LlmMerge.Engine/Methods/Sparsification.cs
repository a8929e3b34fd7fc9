using static TorchSharp.torch;

namespace LlmMerge.Methods;

/// <summary>How a task vector is thinned before merging (mergekit's SparsificationMethod).</summary>
public enum SparsificationMethod
{
    /// <summary>Keep the largest magnitudes (TIES).</summary>
    Magnitude,

    /// <summary>Keep each entry with probability density (DARE).</summary>
    Random,

    /// <summary>Drop the top gamma fraction, then the smallest (Model Breadcrumbs).</summary>
    MagnitudeOutliers,
}

/// <summary>The sparsification functions of mergekit's sparsify.py, with its density and rescale semantics.</summary>
public static class Sparsification
{
    /// <summary>
    /// Thins <paramref name="delta"/> (consumed) and returns the result. With <paramref name="rescale"/> the kept
    /// entries are scaled so the tensor keeps its L1 norm, unless either norm is below 1e-7.
    /// </summary>
    public static Tensor Apply(Tensor delta, SparsificationMethod method, double density, bool rescale, Generator random, double gamma = 0.01)
    {
        if (density >= 1)
            return delta;
        using var scope = NewDisposeScope();
        double before = rescale ? delta.abs().sum().to(ScalarType.Float64).item<double>() : 0;
        long n = delta.numel();
        Tensor res;
        switch (method)
        {
            case SparsificationMethod.Magnitude:
            {
                // mergekit computes k = int(density * numel) and refuses k == 0.
                long k = (long)(density * n);
                if (k <= 0)
                    throw new LlmMergeException($"density {density} keeps no entry of a tensor of {n} elements; raise density");
                res = MagnitudeSelection.KeepTopK(delta, k);
                break;
            }
            case SparsificationMethod.Random:
            {
                var probs = full_like(delta, density, dtype: delta.dtype == ScalarType.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32);
                var mask = probs.bernoulli_(density, random);
                res = delta.mul_(mask.to(delta.dtype));
                break;
            }
            case SparsificationMethod.MagnitudeOutliers:
                res = MagnitudeOutliers(delta, density, gamma);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(method));
        }
        if (rescale)
        {
            double after = res.abs().sum().to(ScalarType.Float64).item<double>();
            if (before >= 1e-7 && after >= 1e-7)
                res = res.mul_(before / after);
        }
        return res.MoveToOuterDisposeScope();
    }

    /// <summary>Breadcrumbs: with magnitudes sorted ascending, keep ranks [n_bot, n - n_top).</summary>
    private static Tensor MagnitudeOutliers(Tensor delta, double density, double gamma)
    {
        long n = delta.numel();
        long target = (long)(density * n);
        long nTop = (long)(gamma * n);
        long nBot = n - target - nTop;
        if (nBot < 0)
        {
            nTop += nBot;
            nBot = 0;
        }
        var flat = delta.view(-1);
        var order = flat.abs().to(ScalarType.Float32).sort(0, descending: false, stable: true).Indices;
        var mask = zeros_like(flat);
        // mergekit slices indices[n_bot:-n_top]; with n_top == 0 Python's [-0:] is empty, so nothing is kept.
        if (nTop > 0 && n - nTop > nBot)
            mask.index_fill_(0, order.narrow(0, nBot, n - nTop - nBot), 1);
        return flat.mul_(mask).view(delta.shape);
    }
}
