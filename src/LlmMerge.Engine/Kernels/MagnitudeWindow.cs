using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// TIES' k-th largest magnitude of a large tensor in one pass over it. A sample of the keys (runs spread over the
/// tensor) places the wanted rank between two keys lo ≤ hi; the pass counts, per range, the keys below lo, equal to
/// lo, equal to hi and above hi with vector compares, and copies out only the keys strictly between them (a few
/// percent of the tensor: the tie groups that quantised bf16 deltas form sit at the window's ends or on the cut
/// itself and are only counted). The exact key is then selected among the copies. When the sample misled (the rank
/// fell outside the window, or too many keys fell inside) the caller counts the exact way instead
/// (<see cref="MagnitudeRanks"/>), so the result never depends on the sample.
/// </summary>
internal sealed unsafe class MagnitudeWindow : IDisposable
{
    private const int MaxSample = 32768;
    private const int SampleRuns = 64;

    /// <summary>Tensors this large use the window; smaller ones are counted exactly at once.</summary>
    public static bool Worthwhile(long n) => n >= 1L << 18;

    /// <summary>Keys sampled for a tensor of <paramref name="n"/> elements: about one in 128, at most 32768, in runs of whole vectors.</summary>
    public static int SampleSize(long n) => (int)Math.Clamp(n / 128, 2048, MaxSample) / (SampleRuns * 8) * (SampleRuns * 8);

    private readonly long _n;
    private readonly long _rank;
    private readonly uint _lo;
    private readonly uint _hi;
    private readonly long _cap;
    private readonly long[] _below, _eqLo, _eqHi, _above;
    private readonly uint[]?[] _inside;
    private readonly int[] _insideCount;
    private volatile bool _overflow;

    private MagnitudeWindow(long n, long rank, uint lo, uint hi, int ranges)
    {
        _n = n;
        _rank = rank;
        _lo = lo;
        _hi = hi;
        _cap = Math.Max(4096, n / 8);
        _below = new long[ranges];
        _eqLo = new long[ranges];
        _eqHi = new long[ranges];
        _above = new long[ranges];
        _inside = new uint[]?[ranges];
        _insideCount = new int[ranges];
    }

    /// <summary>Element positions of the sample: <see cref="SampleRuns"/> runs of equal length spread evenly.</summary>
    public static IEnumerable<(long Start, int Count)> SampleRunsOf(long n)
    {
        int run = SampleSize(n) / SampleRuns;
        for (int i = 0; i < SampleRuns; i++)
            yield return ((n - run) * i / (SampleRuns - 1), run);
    }

    /// <summary>A window around ascending rank <paramref name="rank"/> from the sample's keys (reordered here).</summary>
    public static MagnitudeWindow From(Span<uint> sample, long rank, long n, int ranges)
    {
        int s = sample.Length;
        double q = (double)rank / n;
        // Four standard deviations of the sample quantile's position, plus a margin.
        int delta = (int)Math.Ceiling(4 * Math.Sqrt(s * q * (1 - q))) + 8;
        int p = (int)(q * s);
        int loIndex = p - delta, hiIndex = p + delta;
        uint lo = loIndex <= 0 ? 0 : Select(sample, loIndex);
        uint hi = hiIndex >= s - 1 ? 0x7FFFFFFF : Select(sample, hiIndex);
        return new MagnitudeWindow(n, rank, lo, hi, ranges);
    }

    /// <summary>The k-th smallest (0-based) of <paramref name="keys"/>, which are reordered (Hoare's quickselect).</summary>
    internal static uint Select(Span<uint> keys, int k)
    {
        int left = 0, right = keys.Length - 1;
        while (left < right)
        {
            uint pivot = Median(keys[left], keys[(left + right) >>> 1], keys[right]);
            int i = left, j = right;
            while (i <= j)
            {
                while (keys[i] < pivot)
                    i++;
                while (keys[j] > pivot)
                    j--;
                if (i <= j)
                {
                    (keys[i], keys[j]) = (keys[j], keys[i]);
                    i++;
                    j--;
                }
            }
            if (k <= j)
                right = j;
            else if (k >= i)
                left = i;
            else
                return keys[k];
        }
        return keys[k];
    }

    private static uint Median(uint a, uint b, uint c) => Math.Max(Math.Min(a, b), Math.Min(Math.Max(a, b), c));

    /// <summary>A range's running counts, in vector lanes (each a negated count: compare masks are -1 where true).</summary>
    public struct Counts
    {
        public Vector256<int> Below;
        public Vector256<int> EqLo;
        public Vector256<int> EqHi;
        public Vector256<int> Above;
    }

    /// <summary>The window's ends as vectors (hi is set above every key when the window has one end only).</summary>
    public (Vector256<int> Lo, Vector256<int> Hi) Ends => (Vector256.Create((int)_lo), Vector256.Create(_lo == _hi ? -1 : (int)_hi));

    /// <summary>
    /// Counts eight keys (the lanes of <paramref name="valid"/> that hold elements) against the window's
    /// <see cref="Ends"/> and copies out those inside it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Count(int range, ref Counts c, Vector256<int> key, Vector256<int> valid, Vector256<int> loEnd, Vector256<int> hiEnd)
    {
        // Keys have the sign bit clear, so signed compares order them; a hi end of -1 equals no key.
        var lt = Vector256.LessThan(key, loEnd) & valid;
        var gt = Vector256.GreaterThan(key, Vector256.Create((int)_hi)) & valid;
        var el = Vector256.Equals(key, loEnd) & valid;
        var eh = Vector256.Equals(key, hiEnd) & valid;
        c.Below += lt;
        c.Above += gt;
        c.EqLo += el;
        c.EqHi += eh;
        uint inside = Vector256.AndNot(valid, lt | gt | el | eh).ExtractMostSignificantBits();
        if (inside != 0)
            Keep(range, key, inside);
    }

    /// <summary>Adds a range's counts once its pass is done.</summary>
    public void Flush(int range, in Counts c)
    {
        _below[range] -= Vector256.Sum(c.Below);
        _eqLo[range] -= Vector256.Sum(c.EqLo);
        _eqHi[range] -= Vector256.Sum(c.EqHi);
        _above[range] -= Vector256.Sum(c.Above);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Keep(int range, Vector256<int> key, uint lanes)
    {
        uint* keys = stackalloc uint[8];
        key.AsUInt32().Store(keys);
        Keep(range, keys, lanes);
    }

    private void Keep(int range, uint* keys, uint lanes)
    {
        if (_overflow)
            return;
        var buffer = _inside[range];
        int c = _insideCount[range];
        if (buffer is null || c + 8 > buffer.Length)
        {
            if (c + 8 > _cap)
            {
                _overflow = true;
                return;
            }
            var grown = ArrayPool<uint>.Shared.Rent(Math.Max(4096, (buffer?.Length ?? 0) * 2));
            if (buffer is not null)
            {
                Array.Copy(buffer, grown, c);
                ArrayPool<uint>.Shared.Return(buffer);
            }
            _inside[range] = buffer = grown;
        }
        while (lanes != 0)
        {
            int lane = BitOperations.TrailingZeroCount(lanes);
            lanes &= lanes - 1;
            buffer[c++] = keys[lane];
        }
        _insideCount[range] = c;
    }

    /// <summary>The key at the rank, or null when the sample misled and the exact count must decide.</summary>
    public RankValue? Resolve()
    {
        if (_overflow)
            return null;
        int ranges = _below.Length;
        long below = _below.Sum(), eqLo = _eqLo.Sum(), eqHi = _eqHi.Sum(), above = _above.Sum();
        long inside = _insideCount.Sum(c => (long)c);
        if (_rank < below || _rank >= _n - above)
            return null;
        if (_rank < below + eqLo)
            return new RankValue(_lo, below, eqLo, Prefix(_eqLo));
        if (_rank >= below + eqLo + inside)
            return new RankValue(_hi, below + eqLo + inside, eqHi, Prefix(_eqHi));
        var all = new uint[inside];
        long at = 0;
        for (int r = 0; r < ranges; r++)
        {
            if (_inside[r] is { } buf)
            {
                Array.Copy(buf, 0, all, at, _insideCount[r]);
                at += _insideCount[r];
            }
        }
        uint v = Select(all, (int)(_rank - below - eqLo));
        long less = 0;
        var equal = new long[ranges];
        for (int r = 0; r < ranges; r++)
        {
            var buf = _inside[r];
            for (int i = 0; i < _insideCount[r]; i++)
            {
                if (buf![i] < v)
                    less++;
                else if (buf[i] == v)
                    equal[r]++;
            }
        }
        return new RankValue(v, below + eqLo + less, equal.Sum(), Prefix(equal));
    }

    private static long[] Prefix(long[] perRange)
    {
        var before = new long[perRange.Length];
        for (int r = 1; r < perRange.Length; r++)
            before[r] = before[r - 1] + perRange[r - 1];
        return before;
    }

    public void Dispose()
    {
        for (int r = 0; r < _inside.Length; r++)
        {
            if (_inside[r] is { } b)
                ArrayPool<uint>.Shared.Return(b);
            _inside[r] = null;
        }
    }
}
