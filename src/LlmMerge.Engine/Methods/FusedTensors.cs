using LlmMerge.Engine.Kernels;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>Runs a method's fused kernel on inputs that are already libtorch tensors (float32, CPU, contiguous).</summary>
internal static class FusedTensors
{
    /// <summary>The merged tensor in float32 computed by <paramref name="method"/>'s fused kernel, or null where it does not apply.</summary>
    public static unsafe Tensor? TryMerge(IFusedMergeMethod method, MergeInputs inputs)
    {
        if (inputs.ReferenceKernels || inputs.Tensors.Count == 0)
            return null;
        var shape = inputs.Tensors[0].Tensor.shape;
        foreach (var t in inputs.Tensors)
        {
            var x = t.Tensor;
            if (x.device_type != TorchSharp.DeviceType.CPU || x.dtype != ScalarType.Float32 || !x.is_contiguous() || !x.shape.SequenceEqual(shape))
                return null;
        }
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var fused = new FusedMergeInputs
        {
            TensorName = inputs.TensorName,
            Shape = shape,
            Tensors = inputs.Tensors.Select(t => new FusedInput(t.Model, new RawTensor(TensorBridge.DataPointer(t.Tensor), Core.SafeTensors.SafetensorsDType.F32, n), t.Parameters)).ToList(),
            BaseModel = inputs.BaseModel,
            Parameters = inputs.Parameters,
            Random = new Lazy<Generator>(() => inputs.Random),
        };
        var output = empty(shape, ScalarType.Float32);
        bool done = method.TryMergeFused(fused, new RawTensor(TensorBridge.DataPointer(output), Core.SafeTensors.SafetensorsDType.F32, n));
        // The raw views above point into these tensors' memory.
        GC.KeepAlive(inputs);
        if (done)
            return output;
        output.Dispose();
        return null;
    }
}
