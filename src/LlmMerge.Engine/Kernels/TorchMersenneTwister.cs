using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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

    public uint Next()
    {
        if (--_left == 0)
            Twist();
        uint y = _state[_next++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >> 18;
        return y;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Twist()
    {
        var s = _state;
        for (int i = 0; i < N - M; i++)
            s[i] = s[i + M] ^ Mix(s[i], s[i + 1]);
        for (int i = N - M; i < N - 1; i++)
            s[i] = s[i + M - N] ^ Mix(s[i], s[i + 1]);
        s[N - 1] = s[M - 1] ^ Mix(s[N - 1], s[0]);
        _left = N;
        _next = 0;
    }

    private static uint Mix(uint u, uint v) => (((u & 0x80000000u) | (v & 0x7FFFFFFFu)) >> 1) ^ ((v & 1) != 0 ? 0x9908b0dfu : 0);

    /// <summary>
    /// <c>bernoulli_(p)</c> over <paramref name="count"/> elements: bit i of <paramref name="bits"/> is set where element
    /// i is kept (its 53-bit uniform is below p).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Bernoulli(double p, byte* bits, long count)
    {
        // u = X · 2^-53 exactly, so u < p ⟺ X < ceil(p · 2^53) (p · 2^53 is exact in double).
        ulong limit = p <= 0 ? 0 : p >= 1 ? 1UL << 53 : (ulong)Math.Ceiling(p * 9007199254740992.0);
        for (long i = 0; i < count; i += 8)
        {
            int lanes = (int)Math.Min(8, count - i);
            int b = 0;
            for (int k = 0; k < lanes; k++)
            {
                ulong hi = Next();
                ulong lo = Next();
                if ((((hi << 32) | lo) & ((1UL << 53) - 1)) < limit)
                    b |= 1 << k;
            }
            bits[i >> 3] = (byte)b;
        }
    }

    /// <summary>Uniform float32 draws as <c>bernoulli(probabilities)</c> compares them: one word each, (w &amp; 2^24-1) · 2^-24.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Uniform24(float* dst, int count)
    {
        for (int i = 0; i < count; i++)
            dst[i] = (Next() & 0xFFFFFF) * (1f / (1 << 24));
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
