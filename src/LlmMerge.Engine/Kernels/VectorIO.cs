using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LlmMerge.Core.Numerics;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// Eight elements of a stored tensor in and out of a register: widened from BF16/F16 or read as F32 on the way in,
/// rounded to the tensor's dtype on the way out (as libtorch rounds), so a kernel's whole per-element pipeline runs
/// in registers without scratch copies. The last, partial vector of a tensor goes through a small stack buffer
/// (zeros in the missing lanes).
/// </summary>
internal static unsafe class VectorIO
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(in RawTensor t, long i)
    {
        switch (t.DType)
        {
            case SafetensorsDType.BF16:
                return BFloat16Conversion.ToSingle(Vector256.WidenLower(Vector128.Load((ushort*)t.Address + i).ToVector256Unsafe()));
            case SafetensorsDType.F16:
                return Float16Conversion.ToSingle(Vector256.WidenLower(Vector128.Load((ushort*)t.Address + i).ToVector256Unsafe()));
            default:
                return Vector256.Load((float*)t.Address + i);
        }
    }

    /// <summary><paramref name="lanes"/> elements (1..8) from <paramref name="i"/>, the other lanes zero.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Vector256<float> LoadPartial(in RawTensor t, long i, int lanes)
    {
        float* tmp = stackalloc float[8];
        for (int k = 0; k < 8; k++)
            tmp[k] = 0;
        switch (t.DType)
        {
            case SafetensorsDType.BF16:
                for (int k = 0; k < lanes; k++)
                    tmp[k] = BFloat16Conversion.ToSingle(((ushort*)t.Address)[i + k]);
                break;
            case SafetensorsDType.F16:
                for (int k = 0; k < lanes; k++)
                    tmp[k] = Float16Conversion.ToSingle(((ushort*)t.Address)[i + k]);
                break;
            default:
                for (int k = 0; k < lanes; k++)
                    tmp[k] = ((float*)t.Address)[i + k];
                break;
        }
        return Vector256.Load(tmp);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> In(in RawTensor t, long i, int lanes) => lanes == 8 ? Load(t, i) : LoadPartial(t, i, lanes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(in RawTensor t, long i, Vector256<float> v)
    {
        switch (t.DType)
        {
            case SafetensorsDType.BF16:
            {
                var u = BFloat16Conversion.FromSingle(v);
                Vector128.Narrow(u.GetLower(), u.GetUpper()).Store((ushort*)t.Address + i);
                break;
            }
            case SafetensorsDType.F16:
            {
                var u = Float16Conversion.FromSingle(v);
                Vector128.Narrow(u.GetLower(), u.GetUpper()).Store((ushort*)t.Address + i);
                break;
            }
            default:
                v.Store((float*)t.Address + i);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void StorePartial(in RawTensor t, long i, Vector256<float> v, int lanes)
    {
        float* tmp = stackalloc float[8];
        v.Store(tmp);
        t.Write(i, lanes, tmp);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Out(in RawTensor t, long i, int lanes, Vector256<float> v)
    {
        if (lanes == 8)
            Store(t, i, v);
        else
            StorePartial(t, i, v, lanes);
    }
}
