using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling.Sources;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Moe;

/// <summary>
/// Reads the inputs' tensors for a mixture as mergekit-moe's copy_tensor_out and noise_and_scale do (common.py at
/// a6e40288): in their stored dtype, then an expert's <c>noise_scale</c> adds randn_like(t)·scale and, for the
/// residual projection (down_proj), <c>residual_scale</c> multiplies, both in that dtype, before the cast to the output
/// dtype. One generator serves the whole run, drawn in mergekit's write order, so a seed reproduces a model.
/// </summary>
internal sealed class MoeTensorReader(Generator generator, SafetensorsDType? outDType)
{
    /// <summary>Input bytes read so far (each tensor's pages are released after it is read).</summary>
    public long BytesRead { get; private set; }

    /// <summary>The dtype a tensor is written in: the recipe's (or base's) dtype, else the tensor's own.</summary>
    public SafetensorsDType OutDType(IModelSource source, string name) => outDType ?? source.GetInfo(name).DType;

    /// <summary>The dtype computed tensors (routers, zero biases) are written in when no dtype is resolved.</summary>
    public SafetensorsDType ComputedDType => outDType ?? SafetensorsDType.F32;

    public Tensor Read(IModelSource source, string name, MoeExpert? expert = null, bool residual = false)
    {
        var stored = source.GetInfo(name).DType.ToScalarType();
        var t = source.Load(name, stored, CPU);
        BytesRead += source.Evict(name);
        if (expert?.NoiseScale is double noise)
            t = t + randn(t.shape, t.dtype, CPU, generator: generator) * noise;
        if (residual && expert?.ResidualScale is double scale)
            t = t * scale;
        return t;
    }
}
