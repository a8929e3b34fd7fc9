using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// libtorch's float32 <c>norm()</c> (p = 2) of a contiguous tensor, reproduced bit for bit for SLERP's normalisation.
/// ATen (ReduceOpsKernel.cpp, the vectorised last-dimension path of norm_kernel_tensor_iterator_impl) reduces one
/// row serially: a vector accumulator of the CPU's width takes x·x over the whole vectors, its lanes are summed in
/// order, the remaining elements' squares are added, and the square root is taken in float32. libtorch's build lets
/// the compiler fuse x·x + acc into one multiply-add (GCC contracts ATen's vector operators); whether it did, in the
/// vector loop and in the tail, and the width, are found by <see cref="Reproduces"/>'s one check of this libtorch
/// (here: fused in both, width 8).
/// </summary>
internal static class TorchNorm
{
    private static readonly Lazy<(int Width, bool FusedVector, bool FusedTail)> Checked = new(Find);

    public static bool Reproduces => Checked.Value.Width > 0;

    public static int Width => Checked.Value.Width;

    public static bool FusedVector => Checked.Value.FusedVector;

    public static bool FusedTail => Checked.Value.FusedTail;

    /// <summary>The sum of squares of one tensor fed in order, in pieces whose lengths are multiples of the width except the last.</summary>
    public unsafe sealed class Accumulator(long length, int width, bool fusedVector, bool fusedTail)
    {
        private readonly Vector256<float>[] _acc = new Vector256<float>[width / 8];
        private readonly long _vectorEnd = length - length % width;
        private long _pos;
        private float _tail;
        private bool _folded;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Add(float* values, long count)
        {
            long i = 0;
            for (; i < count && _pos < _vectorEnd; i += width, _pos += width)
            {
                for (int p = 0; p < _acc.Length; p++)
                {
                    var v = Vector256.Load(values + i + p * 8);
                    _acc[p] = fusedVector ? Vector256.FusedMultiplyAdd(v, v, _acc[p]) : _acc[p] + v * v;
                }
            }
            for (; i < count; i++, _pos++)
            {
                Fold();
                float x = values[i];
                _tail = fusedTail ? MathF.FusedMultiplyAdd(x, x, _tail) : _tail + x * x;
            }
        }

        private void Fold()
        {
            if (_folded)
                return;
            _folded = true;
            float b = _acc[0][0];
            for (int j = 1; j < width; j++)
                b = b + _acc[j / 8][j % 8];
            _tail = b;
        }

        public float Result()
        {
            if (_pos != length)
                throw new InvalidOperationException($"norm fed {_pos} of {length} values");
            Fold();
            return MathF.Sqrt(_tail);
        }
    }

    public static unsafe float Norm(float* values, long count, int width, bool fusedVector, bool fusedTail)
    {
        var acc = new Accumulator(count, width, fusedVector, fusedTail);
        acc.Add(values, count);
        return acc.Result();
    }

    private static unsafe (int, bool, bool) Find()
    {
        try
        {
            TorchRuntime.Initialize();
            var rng = new Random(23);
            var data = new List<float[]>();
            foreach (int n in new[] { 1, 2, 3, 5, 7, 9, 13, 15, 17, 23, 31, 100, 1001, 4097, 65539 })
            {
                for (int rep = 0; rep < 8; rep++)
                    data.Add(Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Exp(rng.NextDouble() * 12 - 6))).ToArray());
            }
            var expected = data.Select(d => { using var t = tensor(d); return t.norm().item<float>(); }).ToList();
            foreach (int width in new[] { 8, 16 })
            {
                foreach (var (vector, tail) in new[] { (true, true), (false, false), (true, false), (false, true) })
                {
                    bool all = true;
                    for (int i = 0; i < data.Count && all; i++)
                    {
                        fixed (float* p = data[i])
                            all = BitConverter.SingleToInt32Bits(Norm(p, data[i].Length, width, vector, tail)) == BitConverter.SingleToInt32Bits(expected[i]);
                    }
                    if (all)
                        return (width, vector, tail);
                }
            }
            return (0, false, false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return (0, false, false);
        }
    }
}
