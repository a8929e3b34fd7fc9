using LlmMerge.Modeling.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// Keeps exactly the k largest-magnitude entries of a tensor and zeroes the rest, in place.
/// mergekit sorts every magnitude (argsort) to find them; here the k-th largest magnitude is found by a radix
/// select over the bits of |x| (for non-negative floats the order of the bit patterns is the order of the
/// values), two histogram passes instead of a sort. Among entries equal to the threshold, the first ones in
/// memory order are kept, so the count is exact and the result deterministic.
/// </summary>
public static class MagnitudeSelection
{
    private const int Block = 1 << 18;

    /// <summary>Zeroes all but the k largest |x| of a float32 tensor; returns it. Other dtypes and devices go through torch.</summary>
    public static Tensor KeepTopK(Tensor t, long k)
    {
        long n = t.numel();
        if (k >= n)
            return t;
        if (k <= 0)
            return t.zero_();
        if (t.device_type != DeviceType.CPU || t.dtype != ScalarType.Float32 || !t.is_contiguous())
            return KeepTopKTorch(t, k);
        unsafe
        {
            KeepTopKFloat32((uint*)TensorBridge.DataPointer(t), n, k);
        }
        return t;
    }

    private static Tensor KeepTopKTorch(Tensor t, long k)
    {
        using var scope = NewDisposeScope();
        var flat = t.view(-1);
        var idx = flat.abs().to(ScalarType.Float32).topk((int)k, sorted: false).indexes;
        var mask = zeros_like(flat);
        mask.index_fill_(0, idx, 1);
        flat.mul_(mask);
        return t;
    }

    /// <summary>The radix select on raw float32 bits; data is modified in place.</summary>
    internal static unsafe void KeepTopKFloat32(uint* data, long n, long k)
    {
        nint d = (nint)data;
        long blocks = (n + Block - 1) / Block;

        // Pass 1: histogram of the top 16 bits of |x| (sign bit cleared).
        var hi = new long[65536];
        Parallel.For(0, blocks, () => new long[65536], (b, _, local) =>
        {
            uint* p = (uint*)d;
            long end = Math.Min(n, (b + 1) * Block);
            for (long i = b * Block; i < end; i++)
                local[(p[i] & 0x7FFFFFFF) >> 16]++;
            return local;
        }, local => { lock (hi) { for (int i = 0; i < 65536; i++) hi[i] += local[i]; } });

        long above = 0;
        int bin = 65535;
        for (; bin >= 0; bin--)
        {
            if (above + hi[bin] >= k)
                break;
            above += hi[bin];
        }

        // Pass 2: histogram of the low 16 bits inside that bin.
        var lo = new long[65536];
        uint binBits = (uint)bin;
        Parallel.For(0, blocks, () => new long[65536], (b, _, local) =>
        {
            uint* p = (uint*)d;
            long end = Math.Min(n, (b + 1) * Block);
            for (long i = b * Block; i < end; i++)
            {
                uint key = p[i] & 0x7FFFFFFF;
                if (key >> 16 == binBits)
                    local[key & 0xFFFF]++;
            }
            return local;
        }, local => { lock (lo) { for (int i = 0; i < 65536; i++) lo[i] += local[i]; } });

        int low = 65535;
        for (; low >= 0; low--)
        {
            if (above + lo[low] >= k)
                break;
            above += lo[low];
        }
        uint threshold = (binBits << 16) | (uint)low;
        long keepEqual = k - above; // how many entries equal to the threshold survive

        // Pass 3: count ties per block so each block knows how many of its ties it may keep.
        var eqCounts = new long[blocks];
        Parallel.For(0, blocks, b =>
        {
            uint* p = (uint*)d;
            long end = Math.Min(n, (b + 1) * Block), c = 0;
            for (long i = b * Block; i < end; i++)
            {
                if ((p[i] & 0x7FFFFFFF) == threshold)
                    c++;
            }
            eqCounts[b] = c;
        });
        var eqBefore = new long[blocks];
        for (long b = 1; b < blocks; b++)
            eqBefore[b] = eqBefore[b - 1] + eqCounts[b - 1];

        Parallel.For(0, blocks, b =>
        {
            uint* p = (uint*)d;
            long end = Math.Min(n, (b + 1) * Block);
            long seen = eqBefore[b];
            for (long i = b * Block; i < end; i++)
            {
                uint key = p[i] & 0x7FFFFFFF;
                if (key > threshold)
                    continue;
                if (key == threshold && seen++ < keepEqual)
                    continue;
                p[i] = 0;
            }
        });
    }
}
