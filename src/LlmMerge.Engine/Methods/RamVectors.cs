using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// mergekit's <c>_prepare_ram_vectors</c> (mergekit/merge_methods/ram.py at commit a6e40288): the flattened task
/// vectors [T, n], which entries of each exceed <c>epsilon</c> in magnitude, and per entry how many models
/// contribute (overlap: more than one; unique: exactly one).
/// </summary>
internal sealed record RamVectors(Tensor TaskVectors, Tensor Nonzero, Tensor Counts, Tensor Overlap, Tensor Unique)
{
    /// <summary>The task vectors of the non-base inputs, in the inputs' dtype (the caller's dispose scope owns them).</summary>
    public static RamVectors Of(IReadOnlyList<Tensor> tensors, Tensor baseTensor, double epsilon)
    {
        var tv = stack(tensors.Select(t => t.sub(baseTensor)).ToArray(), 0).view(tensors.Count, -1);
        var nonzero = tv.abs().gt(epsilon);
        var counts = nonzero.sum([0], keepdim: true);
        return new RamVectors(tv, nonzero, counts, counts.gt(1), counts.eq(1));
    }

    /// <summary>Task vectors with entries at or under epsilon zeroed (<c>tv_flat * nonzero_mask</c>).</summary>
    public Tensor Kept => TaskVectors.mul(Nonzero);

    /// <summary>Σ over models of the overlapping entries divided by their contributor counts.</summary>
    public Tensor OverlapTerm(Tensor kept) => kept.mul(Overlap).div(Counts.clamp(min: 1));
}
