using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>The linear algebra the singular-vector methods (tsv, iso_c, iso_cts) share, on libtorch's LAPACK.</summary>
internal static class SubspaceMath
{
    /// <summary>
    /// The dtype an SVD runs in: libtorch has no half-precision SVD, so bf16 and f16 widen to float32, as FusionBench's
    /// TSV does (its Iso-C and Iso-CTS would fail on them; they widen the same way here).
    /// </summary>
    public static ScalarType SvdType(ScalarType t) => t == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    /// <summary>torch.linalg.svd(a, full_matrices=False): U [m, r], S [r], Vh [r, n] with r = min(m, n).</summary>
    public static (Tensor U, Tensor S, Tensor Vh) Svd(Tensor a)
    {
        var (u, s, vh) = linalg.svd(a, fullMatrices: false);
        return (u, s, vh);
    }

    /// <summary>The orthogonal polar factor U Vhᵀ of <paramref name="a"/>'s SVD: the nearest matrix with orthonormal columns (or rows).</summary>
    public static Tensor Polar(Tensor a)
    {
        var (u, _, vh) = Svd(a);
        return u.matmul(vh);
    }

    /// <summary>U diag(s) Vh, without forming the diagonal matrix.</summary>
    public static Tensor Recompose(Tensor u, Tensor s, Tensor vh) => u.mul(s.unsqueeze(0)).matmul(vh);

    /// <summary>
    /// FusionBench's running mean of the tensors it does not decompose (<c>new += (vec - new) / (i + 1)</c>), in their dtype.
    /// </summary>
    public static Tensor RunningMean(IReadOnlyList<Tensor> xs)
    {
        var mean = xs[0].clone();
        for (int i = 1; i < xs.Count; i++)
            mean.add_(xs[i].sub(mean).div(i + 1));
        return mean;
    }

    /// <summary>Python's <c>sum(list)</c>: 0 + x0 + x1 + ..., left to right.</summary>
    public static Tensor Sum(IReadOnlyList<Tensor> xs)
    {
        var sum = xs[0].clone();
        for (int i = 1; i < xs.Count; i++)
            sum.add_(xs[i]);
        return sum;
    }
}
