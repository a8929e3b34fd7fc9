using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>How a task vector is thinned before merging (mergekit's SparsificationMethod).</summary>
public enum SparsificationMethod
{
    /// <summary>Keep the largest magnitudes (TIES).</summary>
    Magnitude,

    /// <summary>Keep each entry with probability density (DARE).</summary>
    Random,

    /// <summary>Drop the top gamma fraction, then the smallest (Model Breadcrumbs).</summary>
    MagnitudeOutliers,

    /// <summary>Keep each entry with a probability from density - epsilon to density + epsilon by its magnitude rank in its row (DELLA's MagPrune).</summary>
    DellaMagprune,
}

/// <summary>The sparsification functions of mergekit's sparsify.py, with its density and rescale semantics.</summary>
public static class Sparsification
{
    /// <summary>
    /// Thins <paramref name="delta"/> (consumed) and returns the result. With <paramref name="rescale"/> the kept
    /// entries are scaled so the tensor keeps its L1 norm, unless either norm is below 1e-7.
    /// </summary>
    public static Tensor Apply(Tensor delta, SparsificationMethod method, double density, bool rescale, Generator random, double gamma = 0.01, double epsilon = 0.15)
    {
        if (density >= 1)
            return delta;
        if (method == SparsificationMethod.DellaMagprune && density <= 0)
            return delta.zero_();
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
            case SparsificationMethod.DellaMagprune:
                res = DellaMagprune(delta, density, epsilon, random);
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

    /// <summary>Why density and epsilon cannot drive MagPrune (density ± epsilon must lie strictly inside (0, 1)), or null when they can.</summary>
    private static string? DellaEpsilonProblem(double density, double epsilon) =>
        density >= 1 || density <= 0 || (density + epsilon < 1 && density - epsilon > 0) ? null
            : $"parameter 'epsilon' ({epsilon.ToString(System.Globalization.CultureInfo.InvariantCulture)}) with density {density.ToString(System.Globalization.CultureInfo.InvariantCulture)} "
              + $"puts density - epsilon or density + epsilon outside (0, 1); use an epsilon below {Math.Min(density, 1 - density).ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>
    /// DELLA's MagPrune as mergekit's della_magprune: within each row (a 1-D tensor is one row) entries are ranked
    /// by magnitude, 1 for the smallest; the rank, scaled to [0, 1] over the row, maps linearly onto a keep
    /// probability from density - epsilon (smallest) to density + epsilon (largest); each entry is then kept by a
    /// Bernoulli draw. The L1 rescale (mergekit's rescale_norm=l1 over the whole tensor) happens in the caller.
    /// </summary>
    private static Tensor DellaMagprune(Tensor delta, double density, double epsilon, Generator random)
    {
        if (DellaEpsilonProblem(density, epsilon) is { } problem)
            throw new LlmMergeException(problem);
        var rows = delta.dim() < 2 ? delta.unsqueeze(0) : delta;
        long width = rows.shape[1];
        // mergekit divides by (max rank - min rank), which is 0 for rows of one entry; torch.bernoulli then
        // refuses the NaN probabilities. Fail the same way, but say why.
        if (width < 2)
            throw new LlmMergeException($"MagPrune ranks magnitudes along dimension 1 and needs at least two entries there; shape [{string.Join(", ", delta.shape)}] has {width}");
        // mergekit draws in float32 on the CPU unless the tensor is bfloat16 (torch.bernoulli lacks float16 there).
        var work = delta.dtype == ScalarType.BFloat16 || delta.device_type != TorchSharp.DeviceType.CPU ? delta.dtype : ScalarType.Float32;
        // Rank r in 1..width along dim 1: the position of each entry in the ascending order of magnitudes.
        // mergekit's argsort is not stable; we order equal magnitudes by position, which torch's CPU sort does in practice.
        var order = rows.abs().sort(1, descending: false, stable: true).Indices;
        // In bfloat16 (mergekit's choice for bfloat16 tensors) ranks above 256 round to a coarser grid; so do ours.
        var ranks = order.sort(1, descending: false, stable: true).Indices.to(work).add_(1);
        var minRank = ranks.amin([1], keepdim: true);
        var maxRank = ranks.amax([1], keepdim: true);
        var rankNorm = ranks.sub(minRank).div_(maxRank.sub(minRank)).clamp_(0, 1);
        var probs = rankNorm.mul_(2 * epsilon).add_(density - epsilon);
        var mask = probs.bernoulli(random);
        return rows.mul_(mask.to(delta.dtype)).view(delta.shape);
    }
}
