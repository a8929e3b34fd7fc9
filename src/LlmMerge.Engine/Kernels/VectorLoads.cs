using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LlmMerge.Core.Numerics;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Engine.Kernels;

/// <summary>Eight stored elements widened to float32 in a register; one implementation per dtype, so a generic loop is compiled once per dtype with no branch inside.</summary>
internal interface IVectorLoad
{
    static abstract Vector256<float> Load(nint address, long index);
}

internal struct LoadF32 : IVectorLoad
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> Load(nint address, long index) => Vector256.Load((float*)address + index);
}

internal struct LoadBF16 : IVectorLoad
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> Load(nint address, long index) =>
        BFloat16Conversion.ToSingle(Vector256.WidenLower(Vector128.Load((ushort*)address + index).ToVector256Unsafe()));
}

internal struct LoadF16 : IVectorLoad
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> Load(nint address, long index) =>
        Float16Conversion.ToSingle(Vector256.WidenLower(Vector128.Load((ushort*)address + index).ToVector256Unsafe()));
}

/// <summary>
/// Block-level steps the fused kernels compose: a block is up to <see cref="Size"/> elements, processed one
/// step at a time over float32 buffers that stay in the L1 cache, each step a tight loop the JIT compiles per
/// input dtype. The last block of a tensor (its length not a multiple of eight) is read into zero-padded scratch.
/// </summary>
internal static unsafe class VectorBlock
{
    /// <summary>Elements per block: 2 KB per float32 buffer, so a block's buffers for a few experts fit in L1.</summary>
    public const int Size = 512;

    /// <summary>d = x - b over the block of <paramref name="count"/> elements from <paramref name="start"/>, to whole vectors (x read in its stored dtype, or from a padded scratch copy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Delta(in RawTensor x, long start, int count, float* b, float* d, float* scratch)
    {
        int padded = KernelBlocks.Padded(count);
        if ((count & 7) != 0)
        {
            float* px = KernelBlocks.Read(x, start, count, scratch);
            Delta<LoadF32>((nint)px, 0, b, d, padded);
            return;
        }
        switch (x.DType)
        {
            case SafetensorsDType.BF16:
                Delta<LoadBF16>(x.Address, start, b, d, padded);
                break;
            case SafetensorsDType.F16:
                Delta<LoadF16>(x.Address, start, b, d, padded);
                break;
            default:
                Delta<LoadF32>(x.Address, start, b, d, padded);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Delta<T>(nint x, long start, float* b, float* d, int padded) where T : struct, IVectorLoad
    {
        for (int i = 0; i < padded; i += 8)
            (T.Load(x, start + i) - Vector256.Load(b + i)).Store(d + i);
    }

    /// <summary>
    /// TIES' cut fused with the delta: d = x - b where |d| is above the threshold or among the first
    /// <paramref name="keepEqual"/> equal to it in memory order (counted on from <paramref name="seen"/>), else +0.
    /// Returns the count of equal ones seen so far.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long DeltaKeepLargest(in RawTensor x, long start, int count, float* b, float* d, float* scratch, int threshold, long seen, long keepEqual)
    {
        if ((count & 7) != 0)
        {
            float* px = KernelBlocks.Read(x, start, count, scratch);
            return DeltaKeepLargest<LoadF32>((nint)px, 0, count, b, d, threshold, seen, keepEqual);
        }
        return x.DType switch
        {
            SafetensorsDType.BF16 => DeltaKeepLargest<LoadBF16>(x.Address, start, count, b, d, threshold, seen, keepEqual),
            SafetensorsDType.F16 => DeltaKeepLargest<LoadF16>(x.Address, start, count, b, d, threshold, seen, keepEqual),
            _ => DeltaKeepLargest<LoadF32>(x.Address, start, count, b, d, threshold, seen, keepEqual),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long DeltaKeepLargest<T>(nint x, long start, int count, float* b, float* d, int threshold, long seen, long keepEqual) where T : struct, IVectorLoad
    {
        var mask = Vector256.Create(0x7FFFFFFF);
        var t = Vector256.Create(threshold);
        for (int i = 0; i < count; i += 8)
        {
            var dv = T.Load(x, start + i) - Vector256.Load(b + i);
            var key = dv.AsInt32() & mask; // sign bit clear: signed order is the unsigned order
            var keep = Vector256.GreaterThan(key, t);
            uint eq = Vector256.Equals(key, t).ExtractMostSignificantBits();
            if (eq != 0)
            {
                eq &= KernelBlocks.ValidLanes(i, count);
                keep |= KernelBlocks.LaneMask(TakeTies(eq, ref seen, keepEqual)).AsInt32();
            }
            Vector256.ConditionalSelect(keep.AsSingle(), dv, Vector256<float>.Zero).Store(d + i);
        }
        return seen;
    }

    /// <summary>Which of the lanes equal to the threshold are among the first <paramref name="keepEqual"/> in memory order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint TakeTies(uint eq, ref long seen, long keepEqual)
    {
        if (seen >= keepEqual)
        {
            seen += BitOperations.PopCount(eq);
            return 0;
        }
        uint keep = 0;
        while (eq != 0)
        {
            int lane = BitOperations.TrailingZeroCount(eq);
            eq &= eq - 1;
            if (seen++ < keepEqual)
                keep |= 1u << lane;
        }
        return keep;
    }

    /// <summary>The block of <paramref name="x"/> as float32, readable to whole vectors: a pointer into an F32 tensor, else converted into <paramref name="scratch"/>.</summary>
    public static float* Read(in RawTensor x, long start, int count, float* scratch) => KernelBlocks.Read(x, start, count, scratch);

    /// <summary>Stores <paramref name="count"/> float32 values into <paramref name="output"/> at <paramref name="start"/>, rounded to its dtype.</summary>
    public static void Write(in RawTensor output, long start, int count, float* values) => output.Write(start, count, values);
}
