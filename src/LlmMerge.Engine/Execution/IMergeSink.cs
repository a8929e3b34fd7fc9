using static TorchSharp.torch;

namespace LlmMerge.Engine.Execution;

/// <summary>
/// Where a running merge puts its tensors. The executor plans, reads and computes; a sink receives each output
/// tensor once, in plan order: <see cref="DiskSink"/> writes a Hugging Face folder that appears whole or not at
/// all, <see cref="ParameterSink"/> copies into a loaded model's parameters (mergekit-evolve's in-memory mode).
/// </summary>
public interface IMergeSink : IDisposable
{
    /// <summary>Called once, before any tensor, with the whole plan (every name, shape and dtype is known).</summary>
    void Begin(MergeContext context);

    /// <summary>
    /// A computed tensor (compute dtype, any device). The sink must not keep <paramref name="merged"/> past the call:
    /// it is disposed with the tensor's scope.
    /// </summary>
    void Write(PlannedTensor tensor, Tensor merged);

    /// <summary>
    /// A tensor's stored bytes, in pieces: a non-float tensor copied byte for byte from an input, or, where
    /// <see cref="TakesStoredBytes"/>, a merged tensor a fused kernel already rounded to the output dtype.
    /// </summary>
    void WriteRaw(PlannedTensor tensor, long offset, ReadOnlySpan<byte> bytes);

    /// <summary>Whether merged float tensors may come through <see cref="WriteRaw"/> in the output dtype instead of as libtorch tensors.</summary>
    bool TakesStoredBytes => false;

    /// <summary>Called once after the last tensor; a disk sink writes config, tokenizer and card and commits here.</summary>
    void Complete(MergeContext context);
}
