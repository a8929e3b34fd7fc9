using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using LlmMerge.Core;
using LlmMerge.Core.Models;
using LlmMerge.Core.SafeTensors;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Modeling.Torch;

/// <summary>Moves tensors between memory-mapped tensor files (safetensors, PyTorch .bin) and libtorch, converting dtypes on the way.</summary>
public static class TensorBridge
{
    /// <summary>Largest span handed to a copy at once; tensors over 2 GB are moved in pieces of this size.</summary>
    private const long Chunk = 1L << 30;

    public static ScalarType ToScalarType(this SafetensorsDType d) => d switch
    {
        SafetensorsDType.F32 => ScalarType.Float32,
        SafetensorsDType.F16 => ScalarType.Float16,
        SafetensorsDType.BF16 => ScalarType.BFloat16,
        SafetensorsDType.F64 => ScalarType.Float64,
        SafetensorsDType.I64 => ScalarType.Int64,
        SafetensorsDType.I32 => ScalarType.Int32,
        SafetensorsDType.I16 => ScalarType.Int16,
        SafetensorsDType.I8 => ScalarType.Int8,
        SafetensorsDType.U8 => ScalarType.Byte,
        SafetensorsDType.BOOL => ScalarType.Bool,
        _ => throw new LlmMergeException($"dtype {d} cannot be computed on; such tensors are passed through"),
    };

    public static SafetensorsDType ToSafetensors(this ScalarType t) => t switch
    {
        ScalarType.Float32 => SafetensorsDType.F32,
        ScalarType.Float16 => SafetensorsDType.F16,
        ScalarType.BFloat16 => SafetensorsDType.BF16,
        ScalarType.Float64 => SafetensorsDType.F64,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "not a floating dtype"),
    };

    /// <summary>Base address of a contiguous CPU tensor's data.</summary>
    public static unsafe byte* DataPointer(Tensor t)
    {
        if (t.numel() == 0)
            return null;
        var first = t.view(-1).narrow(0, 0, 1);
        return (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(first.bytes));
    }

    /// <summary>
    /// Reads one tensor into a new libtorch tensor of <paramref name="computeType"/> on <paramref name="device"/>.
    /// BF16 → F32 is done here in one pass over the mapped bytes (a shift per element) rather than as a copy plus
    /// a libtorch cast, because that conversion is what almost every merge of a bf16 model starts with.
    /// </summary>
    public static unsafe Tensor Load(ITensorFile file, TensorInfo info, ScalarType computeType, Device device)
    {
        byte* src = file.GetPointer(info);
        long n = info.ElementCount;
        var shape = info.Shape;
        if (info.DType == SafetensorsDType.BF16 && computeType == ScalarType.Float32)
        {
            if (device.type != DeviceType.CPU)
            {
                // To a GPU the stored bf16 goes up as it is (half the bytes of float32) and is widened there: one
                // upload per tensor, and widening is exact on either side, so the values are the CPU path's.
                using var stored = empty(shape, ScalarType.BFloat16);
                if (n > 0)
                    CopyBytes(src, DataPointer(stored), info.ByteLength);
                using var uploaded = stored.to(device);
                return uploaded.to(ScalarType.Float32);
            }
            var t = empty(shape, ScalarType.Float32);
            if (n > 0)
                Bf16ToF32((ushort*)src, (float*)DataPointer(t), n);
            return t;
        }
        var raw = empty(shape, info.DType.ToScalarType());
        if (n > 0)
            CopyBytes(src, DataPointer(raw), info.ByteLength);
        if (raw.dtype == computeType && device.type == DeviceType.CPU)
            return raw;
        using (raw)
            return raw.to(computeType, device);
    }

    /// <summary>Copies a tensor's raw bytes (any dtype) into a CPU tensor of the same dtype, for pass-through.</summary>
    public static unsafe void CopyBytes(byte* src, byte* dst, long count)
    {
        for (long off = 0; off < count; off += Chunk)
        {
            long len = Math.Min(Chunk, count - off);
            Buffer.MemoryCopy(src + off, dst + off, len, len);
        }
    }

    /// <summary>Widens bfloat16 to float32 (exact: bf16 is the top half of an f32), in parallel chunks.</summary>
    public static unsafe void Bf16ToF32(ushort* src, float* dst, long n)
    {
        const long block = 1 << 20;
        long blocks = (n + block - 1) / block;
        nint s = (nint)src, d = (nint)dst;
        Parallel.For(0, blocks, b =>
        {
            long start = b * block, end = Math.Min(n, start + block);
            ushort* ps = (ushort*)s;
            uint* pd = (uint*)d;
            long i = start;
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i + 16 <= end; i += 16)
                {
                    var (lo, hi) = Vector256.Widen(Vector256.Load(ps + i));
                    Vector256.ShiftLeft(lo, 16).Store(pd + i);
                    Vector256.ShiftLeft(hi, 16).Store(pd + i + 8);
                }
            }
            for (; i < end; i++)
                pd[i] = (uint)ps[i] << 16;
        });
    }

    /// <summary>
    /// Writes a computed tensor, cast to <paramref name="outType"/>, into the output through <paramref name="write"/>
    /// (offset within the tensor, bytes), in pieces of at most 1 GB.
    /// </summary>
    public static unsafe void Store(Tensor result, ScalarType outType, Action<long, ReadOnlySpan<byte>> write)
    {
        using var scope = NewDisposeScope();
        var t = result.to(outType, CPU).contiguous();
        long count = t.numel() * t.element_size();
        if (count == 0)
            return;
        byte* p = DataPointer(t);
        for (long off = 0; off < count; off += Chunk)
        {
            int len = (int)Math.Min(Chunk, count - off);
            write(off, new ReadOnlySpan<byte>(p + off, len));
        }
    }
}
