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
        KernelParallel.For(bounds.Length - 1, r =>
        {
            using var scratch = new KernelScratch(2);
            for (long start = bounds[r]; start < bounds[r + 1]; start += KernelParallel.Block)
            {
                int count = (int)Math.Min(KernelParallel.Block, bounds[r + 1] - start);
                int padded = KernelBlocks.Padded(count);
                float* o = KernelBlocks.Target(output, start, count, scratch[0]);
                for (int j = 0; j < m; j++)
                {
                    float* x = KernelBlocks.Read(inputs.Tensors[j].Data, start, count, scratch[1]);
                    var w = Vector256.Create(weights[j]);
                    for (int i = 0; i < padded; i += 8)
                    {
                        var term = Vector256.Load(x + i) * w;
                        (j == 0 ? term : Vector256.Load(o + i) + term).Store(o + i);
                    }
                }
                if (normalize)
                {
                    var d = Vector256.Create(divisor);
                    for (int i = 0; i < padded; i += 8)
                        (Vector256.Load(o + i) / d).Store(o + i);
                }
                output.Write(start, count, o);
            }
        });
        return true;
    }
}
