using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>Each merged model's Gram matrix for one linear weight (what regmean and regmean_plusplus prepare).</summary>
public sealed record RegMeanStatistics(IReadOnlyDictionary<Core.Recipes.ModelReference, Tensor> Grams);

/// <summary>
/// FusionBench's RegMean solve (<c>merging_with_regmean_weights</c> and <c>reduce_non_diagonal_elements</c> in
/// fusion_bench/method/regmean/regmean.py at commit 54c9e8c9): for a Linear weight Wᵢ [out, in] and Gram matrices
/// Gᵢ [in, in], Gᵢ' = Gᵢ ∘ (diag(1 − a) + a) (off-diagonal entries times a = <c>reduce_non_diagonal_ratio</c>) and
/// W = ((Σ Gᵢ')⁻¹ Σ Gᵢ' Wᵢᵀ)ᵀ, in float32; any other tensor is the mean of the models.
/// </summary>
internal static class RegMeanMath
{
    public static Tensor Solve(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> grams, double reduceNonDiagonalRatio, string tensorName)
    {
        using var scope = NewDisposeScope();
        long n = grams[0].shape[0];
        var device = grams[0].device;
        var diagonal = diag(ones(n, ScalarType.Float32, device).sub(reduceNonDiagonalRatio));
        var offDiagonal = zeros_like(diagonal).fill_(reduceNonDiagonalRatio);
        var scale = diagonal.add(offDiagonal);
        Tensor? sumG = null, sumGW = null;
        for (int i = 0; i < weights.Count; i++)
        {
            var w = weights[i].to(ScalarType.Float32);
            if (grams[i].shape[0] != w.shape[1])
                throw new LlmMergeException($"regmean: tensor '{tensorName}' has {w.shape[1]} inputs but its Gram matrix is {grams[i].shape[0]} × {grams[i].shape[1]}; the calibration statistics belong to another model");
            var g = grams[i].to(ScalarType.Float32).mul(scale);
            var gw = g.matmul(w.t());
            sumG = sumG is null ? g : sumG.add(g);
            sumGW = sumGW is null ? gw : sumGW.add(gw);
        }
        Tensor inverse;
        try
        {
            inverse = linalg.inv(sumG!);
        }
        catch (Exception e) when (e is not LlmMergeException)
        {
            throw new LlmMergeException($"regmean: the summed Gram matrix of tensor '{tensorName}' is singular ({e.Message.Split('\n')[0]}); some inputs never vary on the calibration rows: use more rows, or a reduce_non_diagonal_ratio below 1");
        }
        return inverse.matmul(sumGW!).t().contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>torch.stack(values).mean(0), in float32.</summary>
    public static Tensor Mean(IReadOnlyList<Tensor> values)
    {
        using var scope = NewDisposeScope();
        return stack(values.Select(v => v.to(ScalarType.Float32)).ToArray(), 0).mean([0]).MoveToOuterDisposeScope();
    }
}
