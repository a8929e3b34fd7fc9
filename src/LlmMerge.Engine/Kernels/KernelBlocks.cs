using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Engine.Kernels;

/// <summary>Block-level helpers the fused kernels share: padded reads, deltas, magnitude keys, lane masks.</summary>
internal static unsafe class KernelBlocks
{
    /// <summary><paramref name="count"/> rounded up to whole vectors of eight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Padded(int count) => (count + 7) & ~7;

    /// <summary>
    /// Elements [start, start + count) as float32, readable up to <see cref="Padded"/>(count) (the lanes past count
    /// are zero): a pointer into an F32 tensor when no padding is needed, else <paramref name="scratch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float* Read(in RawTensor t, long start, int count, float* scratch)
    {
        if (t.DType == SafetensorsDType.F32 && (count & 7) == 0)
            return (float*)t.Address + start;
        float* p = t.Read(start, count, scratch);
        if (p != scratch)
            Buffer.MemoryCopy(p, scratch, count * 4L, count * 4L);
        for (int i = count; i < Padded(count); i++)
            scratch[i] = 0;
        return scratch;
    }

    /// <summary>Where a block's result is computed: the output's own memory when it is F32 and whole vectors, else scratch.</summary>
    public static float* Target(in RawTensor output, long start, int count, float* scratch) =>
        output.DType == SafetensorsDType.F32 && (count & 7) == 0 ? (float*)output.Address + start : scratch;

    /// <summary>d = x - b over whole vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Subtract(float* x, float* b, float* d, int count)
    {
        for (int i = 0; i < count; i += 8)
            (Vector256.Load(x + i) - Vector256.Load(b + i)).Store(d + i);
    }

    /// <summary>Magnitude keys: the bits of |d| (sign cleared), whose unsigned order is the order of the magnitudes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Keys(float* d, uint* keys, int count)
    {
        var mask = Vector256.Create(0x7FFFFFFFu);
        for (int i = 0; i < count; i += 8)
            (Vector256.Load((uint*)d + i) & mask).Store(keys + i);
    }

    /// <summary>
    /// Keys as libtorch's sort orders magnitudes: every NaN equal to every other and above infinity
    /// (torch.sort treats NaNs as equal, where their bit patterns would order them by payload).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SortKeys(float* d, uint* keys, int count)
    {
        var mask = Vector256.Create(0x7FFFFFFFu);
        var inf = Vector256.Create(0x7F800000);
        var nan = Vector256.Create(0x7F800001u);
        for (int i = 0; i < count; i += 8)
        {
            var k = Vector256.Load((uint*)d + i) & mask;
            Vector256.ConditionalSelect(Vector256.GreaterThan(k.AsInt32(), inf).AsUInt32(), nan, k).Store(keys + i);
        }
    }

    /// <summary>|v| over whole vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Abs(float* v, float* dst, int count)
    {
        var mask = Vector256.Create(0x7FFFFFFFu);
        for (int i = 0; i < count; i += 8)
            (Vector256.Load((uint*)v + i) & mask).AsSingle().Store(dst + i);
    }

    /// <summary>All-ones lanes for the set bits of <paramref name="bits"/> (lane i = bit i).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LaneMask(uint bits)
    {
        var bit = Vector256.Create(1, 2, 4, 8, 16, 32, 64, 128);
        return Vector256.Equals(Vector256.Create((int)bits) & bit, bit).AsSingle();
    }

    /// <summary>The bits of lanes that hold real elements in the vector at <paramref name="i"/> of a block of <paramref name="count"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ValidLanes(int i, int count) => count - i >= 8 ? 0xFFu : (1u << (count - i)) - 1;
}
