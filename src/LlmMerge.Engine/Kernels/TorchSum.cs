using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.Intrinsics;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// libtorch's float32 <c>sum()</c> of a contiguous tensor, reproduced bit for bit, so a fused kernel can compute
/// the L1 norms (DARE's and DELLA's rescale) and dot products (SLERP) that the libtorch path computes, in the same
/// pass that reads the inputs. ATen (SumKernel.cpp's cascade_sum) splits the elements into one chunk per OpenMP
/// thread when there are at least 32768 (TensorIterator's two-pass reduction: chunk = ceil(n / threads)), sums each
/// chunk with a float32 cascade over vectors of its CPU's width (four interleaved accumulators, four levels), then
/// sums the per-thread partials the same way. The vector width (8 floats on AVX2, 16 on AVX-512) and the thread
/// count decide the rounding; <see cref="Reproduces"/> checks this libtorch once and the kernels fall back to
/// libtorch where the check fails.
/// </summary>
internal static class TorchSum
{
    private const long GrainSize = 32768;

    private static readonly Lazy<int> CheckedWidth = new(FindWidth);

    /// <summary>Whether sums computed here equal this libtorch's (checked once per process).</summary>
    public static bool Reproduces => CheckedWidth.Value > 0;

    /// <summary>libtorch's float vector width on this CPU, as found by the check (0 when none matched).</summary>
    public static int Width => CheckedWidth.Value;

    /// <summary>The chunks libtorch sums separately: (start, length) per thread that gets work.</summary>
    public static (long Start, long Length)[] Chunks(long n, int threads)
    {
        if (n < GrainSize || threads <= 1)
            return [(0, n)];
        long used = Math.Min(threads, (n + GrainSize - 1) / GrainSize);
        long chunk = (n + used - 1) / used;
        var list = new List<(long, long)>();
        for (long t = 0; t < used; t++)
        {
            long start = t * chunk;
            if (start < n)
                list.Add((start, Math.Min(n, start + chunk) - start));
        }
        return list.ToArray();
    }

    /// <summary>
    /// The sum of <paramref name="n"/> elements from each chunk's <see cref="Accumulator.Result"/> (chunks as
    /// <see cref="Chunks"/> gives them), combined as libtorch does: one chunk is stored into the zeroed output;
    /// several go into one zeroed slot per thread, and the slots are summed the same cascade way.
    /// </summary>
    public static unsafe float Combine(ReadOnlySpan<float> chunkSums, long n, int threads, int width)
    {
        if (n < GrainSize || threads <= 1)
            return 0f + chunkSums[0];
        var buffer = new float[threads];
        for (int i = 0; i < chunkSums.Length; i++)
            buffer[i] = 0f + chunkSums[i];
        var acc = new Accumulator(threads, width);
        fixed (float* b = buffer)
            acc.Add(b, threads);
        return 0f + acc.Result();
    }

    /// <summary>
    /// One chunk's cascade sum, fed its values in order (in pieces whose lengths are multiples of 4 × width, except the
    /// last). The same sequence of float32 additions as ATen's row_sum / multi_row_sum / vectorized_inner_sum.
    /// </summary>
    public unsafe sealed class Accumulator
    {
        private const int Levels = 4;
        private const int Rows = 4;

        private readonly int _width;     // floats per libtorch vector
        private readonly int _parts;     // Vector256 per libtorch vector
        private readonly long _length;
        private readonly long _vectors;  // full libtorch vectors in the chunk
        private readonly long _groups;   // groups of four vectors (the interleaved rows)
        private readonly int _levelPower;
        private readonly long _levelStep;
        private readonly bool _scalarPath;
        private readonly Vector256<float>[] _acc; // [level][row][part]
        private readonly float[] _scalarAcc;      // [level][row] for chunks shorter than one vector
        private long _pos;      // elements consumed
        private long _group;    // multi_row_sum's i
        private long _inStep;   // j within the current level step
        private float _tail;
        private bool _closed;   // multi_row_sum finished: acc[0] holds its result

        public Accumulator(long length, int width)
        {
            _width = width;
            _parts = width / 8;
            _length = length;
            _scalarPath = length < width;
            _vectors = _scalarPath ? 0 : length / width;
            // The scalar path groups single elements by four; the vector path groups vectors by four.
            _groups = (_scalarPath ? length : _vectors) / Rows;
            _levelPower = Math.Max(4, CeilLog2(_groups) / Levels);
            _levelStep = 1L << _levelPower;
            _acc = new Vector256<float>[Levels * Rows * _parts];
            _scalarAcc = new float[Levels * Rows];
        }

        private static int CeilLog2(long x) => x <= 2 ? 1 : 64 - BitOperations.LeadingZeroCount((ulong)(x - 1));

        private ref Vector256<float> Acc(int level, int row, int part) => ref _acc[(level * Rows + row) * _parts + part];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Add(float* values, long count)
        {
            if (_scalarPath)
            {
                for (long i = 0; i < count; i++)
                    AddScalar(values[i]);
                return;
            }
            long i2 = 0;
            while (i2 < count)
            {
                long groupElems = (long)Rows * _width;
                if (_group < _groups)
                {
                    // One group of four vectors: rows 0..3.
                    float* g = values + i2;
                    for (int k = 0; k < Rows; k++)
                        for (int p = 0; p < _parts; p++)
                            Acc(0, k, p) += Vector256.Load(g + k * _width + p * 8);
                    _group++;
                    _pos += groupElems;
                    i2 += groupElems;
                    if (_group <= _groups / _levelStep * _levelStep)
                        AfterGroupInStep();
                    continue;
                }
                CloseGroups();
                long vectorIndex = _pos / _width;
                if (vectorIndex < _vectors)
                {
                    // The vectors past the last group of four go to row 0.
                    for (int p = 0; p < _parts; p++)
                        Acc(0, 0, p) += Vector256.Load(values + i2 + p * 8);
                    _pos += _width;
                    i2 += _width;
                    continue;
                }
                _tail += values[i2];
                _pos++;
                i2++;
            }
        }

        private void AfterGroupInStep()
        {
            if (++_inStep < _levelStep)
                return;
            _inStep = 0;
            for (int j = 1; j < Levels; j++)
            {
                for (int k = 0; k < Rows; k++)
                    for (int p = 0; p < _parts; p++)
                    {
                        Acc(j, k, p) += Acc(j - 1, k, p);
                        Acc(j - 1, k, p) = Vector256<float>.Zero;
                    }
                long mask = (_levelStep - 1) << (j * _levelPower);
                if ((_group & mask) != 0)
                    break;
            }
        }

        private void CloseGroups()
        {
            if (_closed)
                return;
            _closed = true;
            for (int j = 1; j < Levels; j++)
                for (int k = 0; k < Rows; k++)
                    for (int p = 0; p < _parts; p++)
                        Acc(0, k, p) += Acc(j, k, p);
        }

        private void AddScalar(float v)
        {
            long i = _pos++;
            if (i < _groups * Rows)
            {
                _scalarAcc[i % Rows] += v;
                return;
            }
            if (!_closed)
            {
                _closed = true;
                for (int j = 1; j < Levels; j++)
                    for (int k = 0; k < Rows; k++)
                        _scalarAcc[k] += _scalarAcc[j * Rows + k];
            }
            _scalarAcc[0] += v;
        }

        /// <summary>The chunk's sum, once all of its <c>length</c> values were added.</summary>
        public float Result()
        {
            if (_pos != _length)
                throw new InvalidOperationException($"cascade sum fed {_pos} of {_length} values");
            if (_scalarPath)
            {
                if (!_closed)
                {
                    _closed = true;
                    for (int j = 1; j < Levels; j++)
                        for (int k = 0; k < Rows; k++)
                            _scalarAcc[k] += _scalarAcc[j * Rows + k];
                }
                float s = _scalarAcc[0];
                for (int k = 1; k < Rows; k++)
                    s += _scalarAcc[k];
                return s;
            }
            CloseGroups();
            // row_sum: partial_sums[0] += partial_sums[1..3].
            for (int k = 1; k < Rows; k++)
                for (int p = 0; p < _parts; p++)
                    Acc(0, 0, p) += Acc(0, k, p);
            // vectorized_inner_sum: the scalar tail first, then the vector's lanes in order.
            float final = _tail;
            for (int p = 0; p < _parts; p++)
                for (int lane = 0; lane < 8; lane++)
                    final += Acc(0, 0, p)[lane];
            return final;
        }
    }

    /// <summary>libtorch's sum of <paramref name="count"/> contiguous values with this process's thread count.</summary>
    public static unsafe float Sum(float* values, long count, int threads, int width)
    {
        var chunks = Chunks(count, threads);
        var sums = new float[chunks.Length];
        for (int c = 0; c < chunks.Length; c++)
        {
            var acc = new Accumulator(chunks[c].Length, width);
            acc.Add(values + chunks[c].Start, chunks[c].Length);
            sums[c] = acc.Result();
        }
        return Combine(sums, count, threads, width);
    }

    private static unsafe int FindWidth()
    {
        try
        {
            TorchRuntime.Initialize();
            int threads = get_num_threads();
            var rng = new Random(17);
            var sizes = new long[] { 1, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257, 1000, 4099, 32767, 32768, 40001, 100003, 1 << 20 };
            var data = sizes.Select(n => Enumerable.Range(0, (int)n).Select(_ => (float)(Math.Exp(rng.NextDouble() * 16 - 8) * (rng.Next(2) * 2 - 1))).ToArray()).ToList();
            var expected = data.Select(d => { using var t = tensor(d); return t.sum().item<float>(); }).ToList();
            foreach (int width in new[] { 8, 16 })
            {
                bool all = true;
                for (int i = 0; i < data.Count && all; i++)
                {
                    fixed (float* p = data[i])
                        all = BitConverter.SingleToInt32Bits(Sum(p, data[i].Length, threads, width)) == BitConverter.SingleToInt32Bits(expected[i]);
                }
                if (all)
                    return width;
            }
            return 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return 0;
        }
    }
}
