namespace LlmMerge.Search.Cma;

/// <summary>
/// The search's own seeded random stream: xoshiro256** (Blackman and Vigna) seeded through SplitMix64, uniform
/// doubles from the top 53 bits, standard normals by Marsaglia's polar method (pairs, the second kept for the next
/// call, as numpy's legacy <c>randn</c> does). pycma draws from numpy's global Mersenne Twister seeded by the clock
/// (mergekit-evolve never sets its seed), so no run of it can be repeated; this stream is the same on every machine
/// and .NET version for a given seed, so a search is repeated exactly and can be resumed by replaying it.
/// </summary>
public sealed class CmaRandom
{
    private ulong _s0, _s1, _s2, _s3;
    private double? _spare;

    public CmaRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A standard normal draw.</summary>
    public double NextGaussian()
    {
        if (_spare is double s)
        {
            _spare = null;
            return s;
        }
        double u, v, r2;
        do
        {
            u = 2 * NextDouble() - 1;
            v = 2 * NextDouble() - 1;
            r2 = u * u + v * v;
        }
        while (r2 >= 1 || r2 == 0);
        double f = Math.Sqrt(-2 * Math.Log(r2) / r2);
        _spare = u * f;
        return v * f;
    }
}
