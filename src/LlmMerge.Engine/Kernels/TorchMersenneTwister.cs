using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// libtorch's CPU generator (at::mt19937, ATen/core/MT19937RNGEngine.h) run in C#: its state is read from a
/// <see cref="Generator"/>, advanced here, and written back, so draws made here continue the generator's stream
/// exactly where libtorch's own would. libtorch's CPU Bernoulli kernels draw serially from this engine:
/// <c>bernoulli_(p)</c> takes a 64-bit draw per element (two words, high first) and keeps it when its 53 low bits
/// times 2^-53 are below p; <c>bernoulli(probabilities)</c> of float32 takes one word and compares its 24 low
/// bits times 2^-24 with the element's probability. On Intel CPUs a libtorch built with MKL draws
/// <c>bernoulli_(p)</c> from MKL's stream instead (ATen's DistributionKernels.cpp); <see cref="Reproduces"/> checks
/// this libtorch on this CPU once, and the kernels fall back to libtorch where it does not.
/// </summary>
internal sealed unsafe class TorchMersenneTwister
{
    private const int N = 624;
    private const int M = 397;

    // CPUGeneratorImplState as get_state() lays it out: the_initial_seed (u64), left (i32), seeded (i32),
    // next (u64), state[624] (u64 each), then the normal-sample caches, which are kept as they were.
    private const int LeftOffset = 8;
    private const int NextOffset = 16;
    private const int StateOffset = 24;

    private readonly uint[] _state = new uint[N];
    private readonly uint[] _tempered = new uint[N]; // the current block's outputs, tempered once
    private readonly byte[] _raw;
    private int _left;
    private int _next;

    private TorchMersenneTwister(byte[] raw)
    {
        _raw = raw;
        _left = BitConverter.ToInt32(raw, LeftOffset);
        _next = (int)BitConverter.ToUInt64(raw, NextOffset);
        for (int i = 0; i < N; i++)
            _state[i] = (uint)BitConverter.ToUInt64(raw, StateOffset + 8 * i);
        Temper();
    }

    /// <summary>The generator's current state (a CPU generator).</summary>
    public static TorchMersenneTwister From(Generator generator)
    {
        using var state = generator.get_state();
        return new TorchMersenneTwister(state.bytes.ToArray());
    }

    /// <summary>Moves the generator to this engine's position.</summary>
    public void SaveTo(Generator generator)
    {
        var raw = (byte[])_raw.Clone();
        BitConverter.TryWriteBytes(raw.AsSpan(LeftOffset), _left);
        BitConverter.TryWriteBytes(raw.AsSpan(NextOffset), (ulong)_next);
        for (int i = 0; i < N; i++)
            BitConverter.TryWriteBytes(raw.AsSpan(StateOffset + 8 * i), (ulong)_state[i]);
        using var state = tensor(raw, ScalarType.Byte);
        generator.set_state(state);
    }

    /// <summary>
    /// The next <paramref name="count"/> words of the stream, as libtorch's engine yields them one call at a time
    /// (<c>if (--left == 0) twist; return temper(state[next++])</c>), a block of 624 at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Fill(uint* dst, long count)
    {
        while (count > 0)
        {
            // left - 1 words remain before the next call twists.
            int available = _left - 1;
            if (available == 0)
            {
                Twist();
                // The call that twisted returns state[0]: as if one word were available at next = 0, left = 625.
                _left = N + 1;
                _next = 0;
                continue;
            }
            int take = (int)Math.Min(available, count);
            fixed (uint* t = _tempered)
                Buffer.MemoryCopy(t + _next, dst, take * 4L, take * 4L);
            _next += take;
            _left -= take;
            dst += take;
            count -= take;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Twist()
    {
        fixed (uint* s = _state)
        {
            var upper = Vector256.Create(0x80000000u);
            var lower = Vector256.Create(0x7FFFFFFFu);
            var one = Vector256<uint>.One;
            var matrix = Vector256.Create(0x9908b0dfu);
            int i = 0;
            // s[i] takes s[i + M] (not yet rewritten) and s[i + 1] (not yet rewritten): eight at a time.
            for (; i + 8 <= N - M; i += 8)
            {
                var u = Vector256.Load(s + i);
                var v = Vector256.Load(s + i + 1);
                var y = (u & upper) | (v & lower);
                var mag = Vector256.Equals(v & one, one) & matrix;
                (Vector256.Load(s + i + M) ^ Vector256.ShiftRightLogical(y, 1) ^ mag).Store(s + i);
            }
            for (; i < N - M; i++)
                s[i] = s[i + M] ^ Mix(s[i], s[i + 1]);
            // s[i] takes s[i + M - N] (already rewritten, 227 places back) and s[i + 1] (not yet).
            for (; i + 8 <= N - 1; i += 8)
            {
                var u = Vector256.Load(s + i);
                var v = Vector256.Load(s + i + 1);
                var y = (u & upper) | (v & lower);
                var mag = Vector256.Equals(v & one, one) & matrix;
                (Vector256.Load(s + i + M - N) ^ Vector256.ShiftRightLogical(y, 1) ^ mag).Store(s + i);
            }
            for (; i < N - 1; i++)
                s[i] = s[i + M - N] ^ Mix(s[i], s[i + 1]);
            s[N - 1] = s[M - 1] ^ Mix(s[N - 1], s[0]);
        }
        Temper();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Temper()
    {
        fixed (uint* s = _state, t = _tempered)
        {
            for (int i = 0; i < N; i += 8)
            {
                var y = Vector256.Load(s + i);
                y ^= Vector256.ShiftRightLogical(y, 11);
                y ^= Vector256.ShiftLeft(y, 7) & Vector256.Create(0x9d2c5680u);
                y ^= Vector256.ShiftLeft(y, 15) & Vector256.Create(0xefc60000u);
                y ^= Vector256.ShiftRightLogical(y, 18);
                y.Store(t + i);
            }
        }
    }

    private static uint Mix(uint u, uint v) => (((u & 0x80000000u) | (v & 0x7FFFFFFFu)) >> 1) ^ ((v & 1) != 0 ? 0x9908b0dfu : 0);

    /// <summary>
    /// <c>bernoulli_(p)</c> over <paramref name="count"/> elements: bit i of <paramref name="bits"/> is set where element
    /// i is kept (its 53-bit uniform is below p).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Bernoulli(double p, byte* bits, long count)
    {
        // u = X · 2^-53 exactly (X the low 53 bits of hi·2^32 + lo), so u < p ⟺ X < ceil(p · 2^53) (exact in double).
        long limit = p <= 0 ? 0 : p >= 1 ? 1L << 53 : (long)Math.Ceiling(p * 9007199254740992.0);
        const int chunk = 4096; // elements per fill, a multiple of 8
        uint* words = stackalloc uint[2 * chunk];
        var lim = Vector256.Create(limit);
        var mask53 = Vector256.Create((1L << 53) - 1);
        for (long start = 0; start < count; start += chunk)
        {
            int n = (int)Math.Min(chunk, count - start);
            Fill(words, 2L * n);
            int i = 0;
            for (; i + 8 <= n; i += 8)
            {
                // Four (hi, lo) pairs as 64-bit lanes hold lo·2^32 + hi: swap the halves to get hi·2^32 + lo.
                var a = Vector256.Load((ulong*)(words + 2 * i));
                var b = Vector256.Load((ulong*)(words + 2 * i + 8));
                var xa = ((a << 32) | (a >> 32)).AsInt64() & mask53;
                var xb = ((b << 32) | (b >> 32)).AsInt64() & mask53;
                uint keep = Vector256.LessThan(xa, lim).ExtractMostSignificantBits() | (Vector256.LessThan(xb, lim).ExtractMostSignificantBits() << 4);
                bits[(start + i) >> 3] = (byte)keep;
            }
            if (i < n)
            {
                int b = 0;
                for (int k = 0; i + k < n; k++)
                {
                    long x = (long)((((ulong)words[2 * (i + k)] << 32) | words[2 * (i + k) + 1]) & ((1UL << 53) - 1));
                    if (x < limit)
                        b |= 1 << k;
                }
                bits[(start + i) >> 3] = (byte)b;
            }
        }
    }

    /// <summary>Uniform float32 draws as <c>bernoulli(probabilities)</c> compares them: one word each, (w &amp; 2^24-1) · 2^-24.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Uniform24(float* dst, int count)
    {
        Fill((uint*)dst, count);
        var low = Vector256.Create(0xFFFFFFu);
        var scale = Vector256.Create(1f / (1 << 24));
        int i = 0;
        for (; i + 8 <= count; i += 8)
            (Vector256.ConvertToSingle((Vector256.Load((uint*)dst + i) & low).AsInt32()) * scale).Store(dst + i);
        for (; i < count; i++)
            dst[i] = (((uint*)dst)[i] & 0xFFFFFF) * (1f / (1 << 24));
    }

    private static readonly Lazy<bool> Checked = new(Check);

    /// <summary>Whether this libtorch draws its CPU Bernoulli samples as this engine does (checked once per process).</summary>
    public static bool Reproduces => Checked.Value;

    private static bool Check()
    {
        try
        {
            TorchRuntime.Initialize();
            using var scope = NewDisposeScope();
            const int n = 3000;
            using var theirs = new Generator(0x5EED_1234);
            using var ours = new Generator(0x5EED_1234);
            var scalarDraw = empty(n, ScalarType.Float32).bernoulli_(0.37, theirs).data<float>().ToArray();
            var probabilities = rand(n, generator: new Generator(99));
            var tensorDraw = probabilities.bernoulli(theirs).data<float>().ToArray();
            var p = probabilities.data<float>().ToArray();

            var mt = From(ours);
            var bits = new byte[(n + 7) / 8];
            fixed (byte* b = bits)
                mt.Bernoulli(0.37, b, n);
            var u = new float[n];
            fixed (float* pu = u)
                mt.Uniform24(pu, n);
            for (int i = 0; i < n; i++)
            {
                if (scalarDraw[i] != ((bits[i >> 3] >> (i & 7)) & 1) || tensorDraw[i] != (u[i] < p[i] ? 1f : 0f))
                    return false;
            }
            // The stream must continue where libtorch's does after the state is written back.
            mt.SaveTo(ours);
            return empty(64, ScalarType.Float32).uniform_(0, 1, theirs).data<float>().ToArray()
                .SequenceEqual(empty(64, ScalarType.Float32).uniform_(0, 1, ours).data<float>().ToArray());
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return false;
        }
    }
}
