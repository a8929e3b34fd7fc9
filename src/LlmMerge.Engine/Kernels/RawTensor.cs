using LlmMerge.Core.Numerics;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// One tensor's elements as the fused kernels see them: an address, a stored dtype (F32, BF16 or F16) and a count.
/// Inputs are read-only views of a memory map or of a libtorch tensor (kernels never write into them, so cached and
/// memory-mapped inputs need no copy); the output is the memory of a tensor in the output dtype.
/// </summary>
public readonly unsafe struct RawTensor
{
    public RawTensor(void* data, SafetensorsDType dtype, long count)
    {
        if (!Supports(dtype))
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "fused kernels read and write F32, BF16 and F16");
        Address = (nint)data;
        DType = dtype;
        Count = count;
    }

    public nint Address { get; }

    public SafetensorsDType DType { get; }

    public long Count { get; }

    public static bool Supports(SafetensorsDType dtype) => dtype is SafetensorsDType.F32 or SafetensorsDType.BF16 or SafetensorsDType.F16;

    /// <summary>
    /// Elements [start, start + count) as float32 (exact widening): a pointer into the tensor itself when it is F32,
    /// else <paramref name="scratch"/> filled with the converted values.
    /// </summary>
    public float* Read(long start, int count, float* scratch)
    {
        switch (DType)
        {
            case SafetensorsDType.F32:
                return (float*)Address + start;
            case SafetensorsDType.BF16:
                BFloat16Conversion.ToSingle((ushort*)Address + start, scratch, count);
                return scratch;
            default:
                Float16Conversion.ToSingle((ushort*)Address + start, scratch, count);
                return scratch;
        }
    }

    /// <summary>Stores float32 values at [start, start + count), rounded to this tensor's dtype as libtorch rounds.</summary>
    public void Write(long start, int count, float* values)
    {
        switch (DType)
        {
            case SafetensorsDType.F32:
                if (values != (float*)Address + start)
                    Buffer.MemoryCopy(values, (float*)Address + start, count * 4L, count * 4L);
                break;
            case SafetensorsDType.BF16:
                BFloat16Conversion.FromSingle(values, (ushort*)Address + start, count);
                break;
            default:
                Float16Conversion.FromSingle(values, (ushort*)Address + start, count);
                break;
        }
    }

    /// <summary>Where a kernel may compute values for [start, ...) in place: the tensor itself when F32, else <paramref name="scratch"/>.</summary>
    public float* Target(long start, float* scratch) => DType == SafetensorsDType.F32 ? (float*)Address + start : scratch;
}
