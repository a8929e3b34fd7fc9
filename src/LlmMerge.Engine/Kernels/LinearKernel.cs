using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LlmMerge.Engine.Methods;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// <see cref="LinearMerge"/> in one pass: sum of x·w from the first model on, divided by the double sum of the
/// float32-rounded weights rounded once to float32, exactly the libtorch operations that method performs.
/// </summary>
internal static unsafe class LinearKernel
{
    public static bool TryMerge(FusedMergeInputs inputs, RawTensor output, bool normalize)
    {
        long n = inputs.Count;
        int m = inputs.Tensors.Count;
        if (m == 0 || output.Count != n || inputs.Tensors.Any(t => t.Data.Count != n))
            return false;
        var weights = new float[m];
        double weightSum = 0;
        for (int j = 0; j < m; j++)
        {
            weights[j] = (float)inputs.Tensors[j].Number("weight");
            weightSum += weights[j];
        }
        float divisor = (float)weightSum;
        var bounds = KernelParallel.Ranges(n);
        var xs = inputs.Tensors.Select(t => t.Data).ToArray();
        KernelParallel.For(bounds.Length - 1, r => Range(xs, weights, normalize, divisor, output, bounds[r], bounds[r + 1]));
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Range(RawTensor[] xs, float[] weights, bool normalize, float divisor, RawTensor output, long from, long to)
    {
        var d = Vector256.Create(divisor);
        for (long i = from; i < to; i += 8)
        {
            int lanes = (int)Math.Min(8, to - i);
            var sum = VectorIO.In(xs[0], i, lanes) * Vector256.Create(weights[0]);
            for (int j = 1; j < xs.Length; j++)
                sum += VectorIO.In(xs[j], i, lanes) * Vector256.Create(weights[j]);
            if (normalize)
                sum /= d;
            VectorIO.Out(output, i, lanes, sum);
        }
    }
}
