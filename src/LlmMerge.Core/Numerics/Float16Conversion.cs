using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LlmMerge.Core.Numerics;

/// <summary>
/// IEEE half ↔ float32 exactly as libtorch's CPU kernels convert (x86's F16C instructions, which ATen's vectorized
/// copy uses): widening is exact and quiets signalling NaNs, keeping their payload; narrowing rounds to nearest
/// even, overflows to infinity, rounds into subnormals, and keeps a NaN's sign and top payload bits with the quiet
/// bit set. Written with integer and float operations that give the same bits on every CPU; tests check every half
/// value and a spread of float bit patterns against libtorch.
/// </summary>
public static class Float16Conversion
{
    // Adding 0.5f aligns a float below 2^-14 so that its mantissa holds the half's subnormal bits, rounded to nearest even.
    private const uint DenormMagic = ((127 - 15) + (23 - 10) + 1) << 23;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort h)
    {
        uint sign = (uint)(h & 0x8000) << 16;
        uint em = (uint)h & 0x7FFF;
        uint bits;
        if (em >= 0x7C00)
            bits = 0x7F800000 | ((em & 0x3FF) << 13) | (em > 0x7C00 ? 0x00400000u : 0);
        else if (em < 0x400)
            bits = BitConverter.SingleToUInt32Bits(em * (1f / (1 << 24)));
        else
            bits = (em << 13) + ((127 - 15) << 23);
        return BitConverter.UInt32BitsToSingle(sign | bits);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value)
    {
        uint x = BitConverter.SingleToUInt32Bits(value);
        uint sign = x & 0x80000000;
        x ^= sign;
        uint o;
        if (x > 0x7F800000)
            o = 0x7E00 | ((x & 0x7FFFFF) >> 13);
        else if (x >= 0x47800000)
            o = 0x7C00;
        else if (x < 0x38800000)
            o = BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(x) + BitConverter.UInt32BitsToSingle(DenormMagic)) - DenormMagic;
        else
            o = (x + unchecked((uint)((15 - 127) << 23)) + 0xFFF + ((x >> 13) & 1)) >> 13;
        return (ushort)(o | (sign >> 16));
    }

    /// <summary>Eight halves (in the low halves of <paramref name="h"/>' lanes) widened.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToSingle(Vector256<uint> h)
    {
        var sign = Vector256.ShiftLeft(h & Vector256.Create(0x8000u), 16);
        var em = h & Vector256.Create(0x7FFFu);
        var shifted = Vector256.ShiftLeft(em, 13);
        var normal = shifted + Vector256.Create((uint)(127 - 15) << 23);
        var special = shifted | Vector256.Create(0x7F800000u)
            | (Vector256.GreaterThan(em.AsInt32(), Vector256.Create(0x7C00)).AsUInt32() & Vector256.Create(0x00400000u));
        var subnormal = (Vector256.ConvertToSingle(em.AsInt32()) * Vector256.Create(1f / (1 << 24))).AsUInt32();
        var bits = Vector256.ConditionalSelect(Vector256.GreaterThan(em.AsInt32(), Vector256.Create(0x7BFF)).AsUInt32(), special,
            Vector256.ConditionalSelect(Vector256.LessThan(em.AsInt32(), Vector256.Create(0x400)).AsUInt32(), subnormal, normal));
        return (sign | bits).AsSingle();
    }

    /// <summary>Eight floats rounded to half, each in the low half of a lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> FromSingle(Vector256<float> value)
    {
        var all = value.AsUInt32();
        var sign = all & Vector256.Create(0x80000000u);
        var x = all ^ sign;
        var xi = x.AsInt32(); // the sign bit is clear, so signed compares order the magnitudes
        var nan = Vector256.Create(0x7E00u) | Vector256.ShiftRightLogical(x & Vector256.Create(0x7FFFFFu), 13);
        var magic = Vector256.Create(DenormMagic);
        var subnormal = (x.AsSingle() + magic.AsSingle()).AsUInt32() - magic;
        var normal = Vector256.ShiftRightLogical(
            x + Vector256.Create(unchecked((uint)((15 - 127) << 23)) + 0xFFF) + (Vector256.ShiftRightLogical(x, 13) & Vector256<uint>.One), 13);
        var o = Vector256.ConditionalSelect(Vector256.GreaterThan(xi, Vector256.Create(0x7F800000)).AsUInt32(), nan,
            Vector256.ConditionalSelect(Vector256.GreaterThan(xi, Vector256.Create(0x477FFFFF)).AsUInt32(), Vector256.Create(0x7C00u),
                Vector256.ConditionalSelect(Vector256.LessThan(xi, Vector256.Create(0x38800000)).AsUInt32(), subnormal, normal)));
        return o | Vector256.ShiftRightLogical(sign, 16);
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
