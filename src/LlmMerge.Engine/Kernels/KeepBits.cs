using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// Which entries of one task vector survive its sparsification, one bit per element (element i is bit i % 8 of
/// byte i / 8): written by the random draws (DARE, DELLA) and the rank cuts (breadcrumbs), read by the L1-norm
/// and combine passes. An eighth of a byte per element keeps a 7B model's largest mask at 16 MB.
/// </summary>
internal sealed unsafe class KeepBits : IDisposable
{
    private byte* _bits;

    public KeepBits(long count)
    {
        Count = count;
        // Two spare bytes: a lane mask reads 16 bits at any bit offset.
        nuint bytes = (nuint)((count + 7) / 8 + 2);
        _bits = (byte*)NativeMemory.AllocZeroed(bytes);
    }

    public long Count { get; }

    public byte* Pointer => _bits;

    /// <summary>Eight lanes' keep flags from element <paramref name="start"/> on, as all-ones lanes.</summary>
    public Vector256<int> Lanes(long start)
    {
        int b = (*(ushort*)(_bits + (start >> 3)) >> (int)(start & 7)) & 0xFF;
        var bit = Vector256.Create(1, 2, 4, 8, 16, 32, 64, 128);
        return Vector256.Equals(Vector256.Create(b) & bit, bit);
    }

    /// <summary>Packs 0/1 flags (one byte each) for elements [start, start + count); start must be a multiple of 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(long start, byte* flags, long count)
    {
        byte* dst = _bits + (start >> 3);
        long i = 0;
        for (; i + 32 <= count; i += 32)
        {
            uint m = Vector256.GreaterThan(Vector256.Load(flags + i), Vector256<byte>.Zero).ExtractMostSignificantBits();
            *(uint*)(dst + (i >> 3)) = m;
        }
        for (; i < count; i += 8)
        {
            int b = 0;
            for (int k = 0; k < 8 && i + k < count; k++)
                b |= (flags[i + k] != 0 ? 1 : 0) << k;
            dst[i >> 3] = (byte)b;
        }
    }

    public void Dispose()
    {
        if (_bits != null)
            NativeMemory.Free(_bits);
        _bits = null;
    }
}
