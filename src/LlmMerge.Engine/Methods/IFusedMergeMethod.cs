using LlmMerge.Engine.Kernels;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// A method that can also compute a tensor in a few streaming passes over its inputs' stored bytes, on the CPU in
/// float32, writing the output dtype directly: the same bits as <see cref="IMergeMethod.Merge"/>, without
/// converted copies of the inputs or libtorch's intermediate tensors. The executor uses it when it can; a method
/// answers false for a tensor or parameter it leaves to <see cref="IMergeMethod.Merge"/> (before drawing any
/// random number), which then also reports any error in the parameters.
/// </summary>
public interface IFusedMergeMethod : IMergeMethod
{
    /// <summary>Computes the tensor into <paramref name="output"/> (same element count as the inputs), or returns false.</summary>
    bool TryMergeFused(FusedMergeInputs inputs, RawTensor output);
}
