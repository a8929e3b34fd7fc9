using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LlmMerge.Core.Numerics;

/// <summary>
/// bfloat16 ↔ float32 exactly as libtorch's CPU kernels convert (ATen's vectorized <c>cvtfp32_bf16</c>):
/// widening is a shift (exact, NaN payloads kept); narrowing rounds to nearest even and turns every NaN into
/// 0xFFFF, which is what <c>tensor.to(torch.bfloat16)</c> writes on the CPU (its scalar fallback would write
/// 0x7FC0, but the copy kernel runs vectorized to the last element). Tests check both against libtorch.
/// </summary>
public static class BFloat16Conversion
{
    public const ushort NaNBits = 0xFFFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value)
    {
        uint x = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
            return NaNBits;
        return (ushort)((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
    }

    /// <summary>Eight bf16 values (in the low halves of <paramref name="bits"/>' lanes) widened.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToSingle(Vector256<uint> bits) => Vector256.ShiftLeft(bits, 16).AsSingle();

    /// <summary>Eight floats rounded to bf16, each in the low half of a lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> FromSingle(Vector256<float> value)
    {
        var x = value.AsUInt32();
        var rounded = Vector256.ShiftRightLogical(x + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(x, 16) & Vector256<uint>.One), 16);
        var ordered = Vector256.Equals(value, value).AsUInt32();
        return Vector256.ConditionalSelect(ordered, rounded, Vector256.Create((uint)NaNBits));
    }

    /// <summary>Widens <paramref name="count"/> values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void ToSingle(ushort* src, float* dst, long count)
    {
        long i = 0;
        for (; i + 16 <= count; i += 16)
        {
            var (lo, hi) = Vector256.Widen(Vector256.Load(src + i));
            ToSingle(lo).Store(dst + i);
            ToSingle(hi).Store(dst + i + 8);
        }
        for (; i < count; i++)
            dst[i] = ToSingle(src[i]);
    }

    /// <summary>Rounds <paramref name="count"/> values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void FromSingle(float* src, ushort* dst, long count)
    {
        long i = 0;
        for (; i + 16 <= count; i += 16)
        {
            var lo = FromSingle(Vector256.Load(src + i));
            var hi = FromSingle(Vector256.Load(src + i + 8));
            Vector256.Narrow(lo, hi).Store(dst + i);
        }
        for (; i < count; i++)
            dst[i] = FromSingle(src[i]);
    }
}
