using System.Runtime.CompilerServices;
using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// Finds the magnitude at given ranks of one tensor's entries in two passes over them, without sorting: magnitudes
/// are keys (the bits of |x|; for non-negative floats the order of the bit patterns is the order of the values),
/// the first pass counts the top 16 bits of every key, the second counts the low 16 bits of the keys in the one
/// bucket that holds each wanted rank. Counts are kept per range of the tensor, so the pass that applies the cut
/// knows how many entries equal to the cut value lie before each range: among equal magnitudes the order in memory
/// decides (TIES keeps the first ones, a stable sort ranks the first ones lowest), which keeps the count exact
/// and the result the same on any number of cores.
/// </summary>
internal sealed unsafe class MagnitudeRanks : IDisposable
{
    private const int HighBins = 1 << 15; // keys have the sign bit clear
    private const int LowBins = 1 << 16;

    private readonly int _ranges;
    private readonly uint[][] _high;
    private readonly List<uint> _bins = new();        // distinct bins the targets fall in
    private readonly List<uint[][]> _low = new();      // per bin, per range
    private readonly List<(long Rank, int Bin, long BelowBin)> _targets = new();

    public MagnitudeRanks(int ranges)
    {
        _ranges = ranges;
        _high = new uint[ranges][];
        for (int r = 0; r < ranges; r++)
        {
            _high[r] = ArrayPool<uint>.Shared.Rent(HighBins);
            Array.Clear(_high[r], 0, HighBins);
        }
    }

    /// <summary>Pass 1 over one range's keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void CountHigh(int range, uint* keys, int count)
    {
        fixed (uint* h = _high[range])
        {
            for (int i = 0; i < count; i++)
                h[keys[i] >> 16]++;
        }
    }

    /// <summary>Between the passes: the ascending ranks (0 = smallest) whose keys are wanted; returns their indices.</summary>
    public void Target(long rank)
    {
        long below = 0;
        for (int bin = 0; bin < HighBins; bin++)
        {
            long c = 0;
            for (int r = 0; r < _ranges; r++)
                c += _high[r][bin];
            if (rank < below + c)
            {
                int index = _bins.IndexOf((uint)bin);
                if (index < 0)
                {
                    index = _bins.Count;
                    _bins.Add((uint)bin);
                    var perRange = new uint[_ranges][];
                    for (int r = 0; r < _ranges; r++)
                    {
                        perRange[r] = ArrayPool<uint>.Shared.Rent(LowBins);
                        Array.Clear(perRange[r], 0, LowBins);
                    }
                    _low.Add(perRange);
                }
                _targets.Add((rank, index, below));
                return;
            }
            below += c;
        }
        throw new ArgumentOutOfRangeException(nameof(rank), rank, "rank beyond the counted keys");
    }

    /// <summary>Pass 2 over one range's keys (count rounded up to whole vectors is readable; lanes past count are ignored).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void CountLow(int range, uint* keys, int count)
    {
        if (_bins.Count == 0)
            return;
        var b0 = Vector256.Create(_bins[0]);
        var b1 = Vector256.Create(_bins[^1]);
        uint bin0 = _bins[0], bin1 = _bins[^1];
        fixed (uint* l0 = _low[0][range])
        fixed (uint* l1 = _low[^1][range])
        {
            for (int i = 0; i < count; i += 8)
            {
                var high = Vector256.ShiftRightLogical(Vector256.Load(keys + i), 16);
                uint hits = (Vector256.Equals(high, b0) | Vector256.Equals(high, b1)).ExtractMostSignificantBits();
                if (count - i < 8)
                    hits &= (1u << (count - i)) - 1;
                while (hits != 0)
                {
                    int lane = BitOperations.TrailingZeroCount(hits);
                    hits &= hits - 1;
                    uint key = keys[i + lane];
                    if (key >> 16 == bin0)
                        l0[key & 0xFFFF]++;
                    else if (key >> 16 == bin1)
                        l1[key & 0xFFFF]++;
                }
            }
        }
    }

    /// <summary>After pass 2: the key at the target's rank, how many keys are below it, and how many equal it before each range.</summary>
    public RankValue Resolve(int target)
    {
        var (rank, index, below) = _targets[target];
        var low = _low[index];
        for (int l = 0; l < LowBins; l++)
        {
            long c = 0;
            for (int r = 0; r < _ranges; r++)
                c += low[r][l];
            if (rank < below + c)
            {
                var before = new long[_ranges];
                for (int r = 1; r < _ranges; r++)
                    before[r] = before[r - 1] + low[r - 1][l];
                return new RankValue((_bins[index] << 16) | (uint)l, below, c, before);
            }
            below += c;
        }
        throw new InvalidOperationException("the second pass did not see the keys the first counted");
    }

    public void Dispose()
    {
        foreach (var h in _high)
            ArrayPool<uint>.Shared.Return(h);
        foreach (var perRange in _low)
            foreach (var l in perRange)
                ArrayPool<uint>.Shared.Return(l);
        _low.Clear();
    }
}

/// <summary>A key at some rank: the key, how many keys are smaller, how many equal it, and how many equal ones precede each range.</summary>
internal sealed record RankValue(uint Key, long Below, long Equal, long[] EqualBefore);
