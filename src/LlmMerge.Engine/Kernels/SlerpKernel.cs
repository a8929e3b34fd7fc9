using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LlmMerge.Engine.Methods;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// <see cref="SlerpMerge"/> in three passes: the two norms (libtorch's serial norm, one core each), the dot product
/// of the normalised tensors (libtorch's sum, its chunks on the cores), and the interpolation; every float32 step
/// is the one the libtorch path takes, so the result is the same bits.
/// </summary>
internal static unsafe class SlerpKernel
{
    private const double DotThreshold = 0.9995;
    private const double Eps = 1e-8;

    public static bool TryMerge(FusedMergeInputs inputs, RawTensor output)
    {
        long n = inputs.Count;
        if (output.Count != n || inputs.Tensors.Any(t => t.Data.Count != n))
            return false;
        if (inputs.Tensors.Count == 1)
        {
            Copy(inputs.Tensors[0].Data, output, n);
            return true;
        }
        var baseInput = inputs.Base;
        if (baseInput is null || !TorchNorm.Reproduces || !TorchSum.Reproduces)
            return false;
        var a = baseInput.Data;
        var b = inputs.Tensors.First(m => !ReferenceEquals(m, baseInput)).Data;
        double t = inputs.Number("t");

        var norms = new float[2];
        KernelParallel.For(2, i => norms[i] = Norm(i == 0 ? a : b, n));
        double normA = norms[0], normB = norms[1];
        // v.div(norm) divides by the norm rounded to float32; tensors of norm at most 1e-8 are left as they are.
        float? divA = normA > Eps ? (float)normA : null;
        float? divB = normB > Eps ? (float)normB : null;
        double dot = Dot(a, b, n, divA, divB);

        float s0, s1;
        if (Math.Abs(dot) > DotThreshold)
        {
            s0 = (float)(1 - t);
            s1 = (float)t;
        }
        else
        {
            double theta0 = Math.Acos(dot);
            double sinTheta0 = Math.Sin(theta0);
            double thetaT = theta0 * t;
            s0 = (float)(Math.Sin(theta0 - thetaT) / sinTheta0);
            s1 = (float)(Math.Sin(thetaT) / sinTheta0);
        }
        var bounds = KernelParallel.Ranges(n);
        KernelParallel.For(bounds.Length - 1, r => Interpolate(a, b, s0, s1, output, bounds[r], bounds[r + 1]));
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Interpolate(RawTensor a, RawTensor b, float s0, float s1, RawTensor output, long from, long to)
    {
        var v0 = Vector256.Create(s0);
        var v1 = Vector256.Create(s1);
        for (long i = from; i < to; i += 8)
        {
            int lanes = (int)Math.Min(8, to - i);
            VectorIO.Out(output, i, lanes, VectorIO.In(a, i, lanes) * v0 + VectorIO.In(b, i, lanes) * v1);
        }
    }

    private static float Norm(RawTensor x, long n)
    {
        var acc = new TorchNorm.Accumulator(n, TorchNorm.Width, TorchNorm.FusedVector, TorchNorm.FusedTail);
        using var scratch = new KernelScratch(1);
        for (long start = 0; start < n; start += KernelParallel.Block)
        {
            int count = (int)Math.Min(KernelParallel.Block, n - start);
            acc.Add(KernelBlocks.Read(x, start, count, scratch[0]), count);
        }
        return acc.Result();
    }

    private static float Dot(RawTensor a, RawTensor b, long n, float? divA, float? divB)
    {
        int threads = get_num_threads();
        int width = TorchSum.Width;
        var chunks = TorchSum.Chunks(n, threads);
        var sums = new float[chunks.Length];
        KernelParallel.For(chunks.Length, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (c) =>
        {
            var (from, length) = chunks[c];
            var acc = new TorchSum.Accumulator(length, width);
            using var scratch = new KernelScratch(3);
            for (long start = from; start < from + length; start += KernelParallel.Block)
            {
                int count = (int)Math.Min(KernelParallel.Block, from + length - start);
                int padded = KernelBlocks.Padded(count);
                float* pa = KernelBlocks.Read(a, start, count, scratch[0]);
                float* pb = KernelBlocks.Read(b, start, count, scratch[1]);
                float* p = scratch[2];
                for (int i = 0; i < padded; i += 8)
                {
                    var va = Vector256.Load(pa + i);
                    var vb = Vector256.Load(pb + i);
                    if (divA is { } da)
                        va /= Vector256.Create(da);
                    if (divB is { } db)
                        vb /= Vector256.Create(db);
                    (va * vb).Store(p + i);
                }
                acc.Add(p, count);
            }
            sums[c] = acc.Result();
        });
        return TorchSum.Combine(sums, n, threads, width);
    }

    private static void Copy(RawTensor x, RawTensor output, long n)
    {
        using var scratch = new KernelScratch(1);
        for (long start = 0; start < n; start += KernelParallel.Block)
        {
            int count = (int)Math.Min(KernelParallel.Block, n - start);
            output.Write(start, count, KernelBlocks.Read(x, start, count, scratch[0]));
        }
    }
}
