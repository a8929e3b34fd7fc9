using LlmMerge.Core.Numerics;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Numerics;

/// <summary>bf16 and f16 conversions give the bits libtorch's <c>to(dtype)</c> gives, NaNs, subnormals and overflow included.</summary>
public class HalfConversionTests
{
    /// <summary>Float bit patterns of every kind: random words, NaNs of every payload and sign, the f16 subnormal and overflow ranges, f32 subnormals, halfway cases.</summary>
    private static uint[] Patterns(int n, int seed)
    {
        var r = new Random(seed);
        var bits = new uint[n];
        for (int i = 0; i < n; i++)
        {
            uint sign = r.Next(2) == 0 ? 0 : 0x80000000u;
            bits[i] = r.Next(7) switch
            {
                0 => (uint)r.NextInt64(0, 1L << 32),
                1 => sign | 0x7F800000u | (uint)r.Next(0, 1 << 23),           // infinities and NaNs
                2 => sign | (uint)r.Next(0x33000000, 0x38900000),              // around the f16 subnormals
                3 => sign | (uint)r.Next(0x477F0000, 0x47900000),              // around the f16 overflow
                4 => sign | (uint)r.Next(0, 0x00800000),                        // f32 subnormals
                5 => sign | ((uint)r.Next(0x3F000000, 0x40000000) & ~0xFFFFu) | 0x8000u, // bf16 halfway cases
                _ => BitConverter.SingleToUInt32Bits((float)(r.NextDouble() - 0.5)),
            };
        }
        return bits;
    }

    private static unsafe Tensor FromBits(uint[] bits)
    {
        var t = empty(bits.Length, ScalarType.Float32);
        fixed (uint* p = bits)
            Buffer.MemoryCopy(p, TensorBridge.DataPointer(t), bits.Length * 4L, bits.Length * 4L);
        return t;
    }

    private static unsafe ushort[] Halves(Tensor t)
    {
        var result = new ushort[t.numel()];
        fixed (ushort* p = result)
            Buffer.MemoryCopy(TensorBridge.DataPointer(t), p, result.Length * 2L, result.Length * 2L);
        GC.KeepAlive(t);
        return result;
    }

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(31)]
    [TestCase(70001)]
    public unsafe void NarrowingMatchesLibtorch(int n)
    {
        TorchRuntime.Initialize();
        using var scope = NewDisposeScope();
        var bits = Patterns(n, n);
        var t = FromBits(bits);
        var torchBf16 = Halves(t.to(ScalarType.BFloat16));
        var torchF16 = Halves(t.to(ScalarType.Float16));
        var bf16 = new ushort[n];
        var f16 = new ushort[n];
        fixed (uint* src = bits)
        fixed (ushort* b = bf16, h = f16)
        {
            BFloat16Conversion.FromSingle((float*)src, b, n);
            Float16Conversion.FromSingle((float*)src, h, n);
        }
        for (int i = 0; i < n; i++)
        {
            float f = BitConverter.UInt32BitsToSingle(bits[i]);
            if (bf16[i] != torchBf16[i] || BFloat16Conversion.FromSingle(f) != torchBf16[i])
                Assert.Fail($"bf16 of {bits[i]:X8}: libtorch {torchBf16[i]:X4}, vector {bf16[i]:X4}, scalar {BFloat16Conversion.FromSingle(f):X4}");
            if (f16[i] != torchF16[i] || Float16Conversion.FromSingle(f) != torchF16[i])
                Assert.Fail($"f16 of {bits[i]:X8}: libtorch {torchF16[i]:X4}, vector {f16[i]:X4}, scalar {Float16Conversion.FromSingle(f):X4}");
        }
    }

    [Test]
    public unsafe void EveryHalfWidensAsLibtorchWidensIt()
    {
        TorchRuntime.Initialize();
        using var scope = NewDisposeScope();
        var all = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        var h = empty(all.Length, ScalarType.Float16);
        fixed (ushort* p = all)
            Buffer.MemoryCopy(p, TensorBridge.DataPointer(h), all.Length * 2L, all.Length * 2L);
        var f = h.to(ScalarType.Float32).data<float>().ToArray();
        var mine = new float[all.Length];
        fixed (ushort* p = all)
        fixed (float* q = mine)
            Float16Conversion.ToSingle(p, q, all.Length);
        for (int i = 0; i < all.Length; i++)
        {
            uint expected = BitConverter.SingleToUInt32Bits(f[i]);
            uint vector = BitConverter.SingleToUInt32Bits(mine[i]), scalar = BitConverter.SingleToUInt32Bits(Float16Conversion.ToSingle(all[i]));
            if (vector != expected || scalar != expected)
                Assert.Fail($"f16 {i:X4}: libtorch {expected:X8}, vector {vector:X8}, scalar {scalar:X8}");
        }
    }

    [Test]
    public void Bf16WideningIsTheTopHalf()
    {
        foreach (ushort b in new ushort[] { 0, 0x8000, 0x3F80, 0x7F80, 0xFF80, 0x7FC1, 0x0001 })
            Assert.That(BitConverter.SingleToUInt32Bits(BFloat16Conversion.ToSingle(b)), Is.EqualTo((uint)b << 16));
    }
}
