using static TorchSharp.torch;

namespace LlmMerge.Modeling.Routing;

/// <summary>
/// Arrow's prototype of one LoRA module (Ostapenko et al. 2024, "Towards Modular LLMs by Building and Reusing a Library
/// of LoRAs"): the top right singular vector of ΔW = B·A, a direction in the projection's input space. PEFT
/// (src/peft/tuners/lora/arrow.py at 5d602fdb) finds it by 15 steps of power iteration from a random start; here it is
/// computed exactly without forming ΔW: Aᵀ = Q·R (Q [in, r]), so B·A = (B·Rᵀ)·Qᵀ and the right singular vectors of
/// B·A are Q times those of the small B·Rᵀ [out, r]. Unique up to sign; Arrow's routing takes |x·v|, so the sign is
/// fixed only to make files reproducible (the largest-magnitude entry positive).
/// </summary>
public static class ArrowPrototype
{
    /// <summary>The unit prototype [in] of lora_A <paramref name="a"/> [r, in] and lora_B <paramref name="b"/> [out, r], in float64.</summary>
    public static Tensor TopRightSingularVector(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.dim() != 2 || b.dim() != 2 || a.shape[0] != b.shape[1])
            throw new ArgumentException($"lora_A [{string.Join(", ", a.shape)}] and lora_B [{string.Join(", ", b.shape)}] do not multiply");
        using var scope = NewDisposeScope();
        var a64 = a.to(ScalarType.Float64);
        var b64 = b.to(ScalarType.Float64);
        var (q, r) = linalg.qr(a64.t());
        var (_, _, vh) = linalg.svd(b64.matmul(r.t()), fullMatrices: false);
        var v = q.matmul(vh[0]);
        v = v.div(v.norm().clamp_min(1e-300));
        // Sign: the largest-magnitude entry positive.
        long at = v.abs().argmax().item<long>();
        if (v[at].item<double>() < 0)
            v = v.neg();
        return v.MoveToOuterDisposeScope();
    }
}
