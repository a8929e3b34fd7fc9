using LlmMerge.Core;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// The CPU float32 path of task arithmetic and TIES: the same arithmetic as <see cref="TaskArithmeticFamily"/>'s
/// libtorch code, entry by entry in the same order, but fused into a few passes over memory that reuse the
/// input buffers instead of a dozen libtorch kernels that each allocate a tensor. At the sizes of real models
/// this is what makes a merge memory-bound rather than allocation-bound; a test checks it against the libtorch
/// path. Random sparsification (DARE) and other devices and dtypes use the libtorch path.
/// </summary>
internal static class FusedTaskArithmetic
{
    private const int Block = 1 << 16;

    public static bool Applies(MergeInputs inputs, SparsificationMethod? sparsify, ConsensusMethod? consensus) =>
        sparsify is null or SparsificationMethod.Magnitude
        && consensus is null or ConsensusMethod.Sum
        && inputs.Tensors.All(t => t.Tensor.device_type == TorchSharp.DeviceType.CPU && t.Tensor.dtype == ScalarType.Float32 && t.Tensor.is_contiguous());

    /// <summary>Computes the merge into the base tensor's memory (the inputs are consumed) and returns it.</summary>
    public static unsafe Tensor Merge(MergeInputs inputs, ModelTensor baseInput, bool magnitude, bool consensus, bool normalize, bool rescale, double lambda)
    {
        var b = baseInput.Tensor;
        long n = b.numel();
        var experts = inputs.Tensors.Where(t => t != baseInput).ToList();
        int m = experts.Count;
        var ptrs = new nint[m];
        var weights = new float[m];
        float* bp = (float*)TensorBridge.DataPointer(b);
        for (int j = 0; j < m; j++)
        {
            var x = experts[j];
            float* xp = (float*)TensorBridge.DataPointer(x.Tensor);
            ptrs[j] = (nint)xp;
            double before = Subtract(xp, bp, n);
            if (magnitude)
            {
                double density = x.Number("density");
                if (density < 1)
                {
                    long k = (long)(density * n);
                    if (k <= 0)
                        throw new LlmMergeException($"density {density} keeps no entry of tensor '{inputs.TensorName}' ({n} elements); raise density");
                    MagnitudeSelection.KeepTopKFloat32((uint*)xp, n, k);
                    if (rescale)
                    {
                        double after = L1(xp, n);
                        if (before >= 1e-7 && after >= 1e-7)
                            Scale(xp, n, (float)(before / after));
                    }
                }
            }
            weights[j] = (float)x.Number("weight");
        }

        float weightSum = 0;
        foreach (var w in weights)
            weightSum += w;
        float plainDivisor = Math.Abs(weightSum) < 1e-8 ? 1 : weightSum;
        float lam = (float)lambda;
        long blocks = (n + Block - 1) / Block;
        nint basePtr = (nint)bp;
        Parallel.For(0, blocks, blk =>
        {
            float* o = (float*)basePtr;
            long end = Math.Min(n, (blk + 1) * Block);
            Span<float> wd = stackalloc float[m];
            for (long i = blk * Block; i < end; i++)
            {
                float sum = 0;
                for (int j = 0; j < m; j++)
                {
                    wd[j] = ((float*)ptrs[j])[i] * weights[j];
                    sum += wd[j];
                }
                float mixed, divisor;
                if (consensus)
                {
                    bool positive = sum >= 0;
                    mixed = 0;
                    divisor = 0;
                    for (int j = 0; j < m; j++)
                    {
                        if (positive ? wd[j] > 0 : wd[j] < 0)
                        {
                            mixed += wd[j];
                            divisor += weights[j];
                        }
                    }
                    if (divisor == 0)
                        divisor = 1;
                }
                else
                {
                    mixed = sum;
                    divisor = plainDivisor;
                }
                if (normalize)
                    mixed /= divisor;
                if (lam != 1)
                    mixed *= lam;
                o[i] += mixed;
            }
        });
        return b.alias();
    }

    /// <summary>x -= b in place; returns the L1 norm of the difference (for the rescale).</summary>
    private static unsafe double Subtract(float* x, float* b, long n)
    {
        long blocks = (n + Block - 1) / Block;
        nint xp = (nint)x, bp = (nint)b;
        double total = 0;
        object gate = new();
        Parallel.For(0, blocks, () => 0.0, (blk, _, acc) =>
        {
            float* px = (float*)xp, pb = (float*)bp;
            long end = Math.Min(n, (blk + 1) * Block);
            for (long i = blk * Block; i < end; i++)
            {
                float d = px[i] - pb[i];
                px[i] = d;
                acc += Math.Abs(d);
            }
            return acc;
        }, acc => { lock (gate) total += acc; });
        return total;
    }

    private static unsafe double L1(float* x, long n)
    {
        double s = 0;
        for (long i = 0; i < n; i++)
            s += Math.Abs(x[i]);
        return s;
    }

    private static unsafe void Scale(float* x, long n, float f)
    {
        for (long i = 0; i < n; i++)
            x[i] *= f;
    }
}
