using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.Intrinsics;
using LlmMerge.Core;
using LlmMerge.Engine.Methods;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// The task-arithmetic family (task_arithmetic, ties, dare_*, breadcrumbs*, della*) as a few streaming passes over
/// the stored inputs: each pass reads a block of the base and of every expert, widens it in registers and works on
/// it there; no task vector is ever stored. Selection passes count magnitudes (<see cref="MagnitudeRanks"/>),
/// random sparsifiers draw libtorch's own stream (<see cref="TorchMersenneTwister"/>), L1 norms are summed as
/// libtorch sums (<see cref="TorchSum"/>), and the last pass sparsifies, weighs, elects signs, sums, divides,
/// scales, adds the base and rounds to the output dtype.
///
/// Every float operation is the one the path it replaces performs, in the same order, so the output is the same
/// bits: task arithmetic and TIES follow <see cref="FusedTaskArithmetic"/> (the float32 CPU path before these
/// kernels), the other methods <see cref="TaskArithmeticFamily"/>'s libtorch code (for instance <c>d·mask</c>
/// rather than a select, so 0·∞ is NaN as there). The two differ in small ways (where sums start, how the plain
/// divisor is summed), and each is kept.
/// </summary>
internal static unsafe class TaskArithmeticKernel
{
    public sealed record Settings(SparsificationMethod? Sparsify, ConsensusMethod? Consensus, bool Normalize, bool Rescale, double Lambda);

    private enum Keep
    {
        All,        // the delta as it is
        Magnitude,  // TIES: the k largest magnitudes, decided in the last pass
        Bits,       // a mask drawn or cut beforehand, applied as d·mask
        Zero,       // MagPrune at density 0: delta.zero_()
    }

    private sealed class Expert : IDisposable
    {
        public required FusedInput Input { get; init; }

        public required float Weight { get; init; }

        public Keep Keep { get; set; } = Keep.All;

        public double Density { get; set; }

        public long K { get; set; }

        public MagnitudeRanks? Ranks { get; set; }

        public uint Threshold { get; set; }

        public long KeepEqual { get; set; }

        public long[] EqualBefore { get; set; } = [];

        public KeepBits? Bits { get; set; }

        public bool RandomDraw { get; set; }

        public bool NeedsSums { get; set; }

        public bool Scaled { get; set; }

        public float Scale { get; set; } = 1;

        // breadcrumbs' rank window [low, high)
        public long LowRank { get; set; }

        public long HighRank { get; set; }

        public bool KeepsNothing { get; set; }

        // della
        public bool MagPrune { get; set; }

        public double Epsilon { get; set; }

        public void Dispose()
        {
            Bits?.Dispose();
            Ranks?.Dispose();
        }
    }

    /// <summary>Computes the merge into <paramref name="output"/>; false where the libtorch path must decide (or report an error).</summary>
    public static bool TryMerge(FusedMergeInputs inputs, RawTensor output, Settings s)
    {
        if (s.Consensus is ConsensusMethod.Count)
            return false;
        var baseInput = inputs.Base;
        if (baseInput is null)
            return false;
        long n = inputs.Count;
        if (output.Count != n || inputs.Tensors.Any(t => t.Data.Count != n))
            return false;
        bool torchFormula = s.Sparsify is not (null or SparsificationMethod.Magnitude);

        var experts = new List<Expert>();
        try
        {
            foreach (var m in inputs.Tensors)
            {
                if (ReferenceEquals(m, baseInput))
                    continue;
                var e = new Expert { Input = m, Weight = (float)m.Number("weight") };
                experts.Add(e);
                if (!Configure(e, s, n, inputs.Shape))
                    return false;
            }
            bool draws = experts.Any(e => e.RandomDraw);
            if (draws && (inputs.Random.Value.device.type != TorchSharp.DeviceType.CPU || !TorchMersenneTwister.Reproduces))
                return false;
            if (experts.Any(e => e.NeedsSums) && !TorchSum.Reproduces)
                return false;

            var bounds = KernelParallel.Ranges(n);
            var clock = PhaseClock.Start();
            if (experts.Any(e => e.Keep == Keep.Magnitude || (e.Keep == Keep.Bits && !e.RandomDraw)))
            {
                SelectMagnitudes(baseInput.Data, experts, bounds, n);
                PhaseClock.Stop("magnitude selection (2 counting passes)", clock);
            }
            if (draws)
            {
                clock = PhaseClock.Start();
                Draw(inputs, baseInput.Data, experts);
                PhaseClock.Stop("random masks (MT19937 draws, DELLA ranks)", clock);
            }
            if (experts.Any(e => e.NeedsSums))
            {
                clock = PhaseClock.Start();
                Rescale(baseInput.Data, experts, n);
                PhaseClock.Stop("L1 norms for rescale (libtorch's sum)", clock);
            }
            if (s.Rescale && !torchFormula)
            {
                clock = PhaseClock.Start();
                RescaleLikeFusedPath(baseInput.Data, experts, bounds, n);
                PhaseClock.Stop("L1 norms for rescale (double)", clock);
            }
            clock = PhaseClock.Start();
            Combine(baseInput.Data, experts, output, bounds, s, torchFormula);
            PhaseClock.Stop("combine pass (sparsify, elect, sum, round)", clock);
            return true;
        }
        finally
        {
            foreach (var e in experts)
                e.Dispose();
        }
    }

    /// <summary>Reads an expert's parameters; false where the libtorch path should handle them.</summary>
    private static bool Configure(Expert e, Settings s, long n, long[] shape)
    {
        var m = e.Input;
        double density = m.Number("density");
        e.Density = density;
        switch (s.Sparsify)
        {
            case null:
                return true;
            case SparsificationMethod.Magnitude:
                if (density < 1)
                {
                    long k = (long)(density * n);
                    if (k <= 0)
                        return false; // the reference path reports it
                    e.Keep = Keep.Magnitude;
                    e.K = k;
                }
                return true;
            case SparsificationMethod.Random:
                if (density >= 1)
                    return true;
                if (!(density >= 0))
                    return false; // libtorch's bernoulli_ refuses it
                e.Keep = Keep.Bits;
                e.RandomDraw = true;
                e.NeedsSums = s.Rescale;
                return true;
            case SparsificationMethod.MagnitudeOutliers:
            {
                if (density >= 1)
                    return true;
                double gamma = m.Parameters.TryGetValue("gamma", out var g) && g is not null ? ParameterValues.ToDouble(g, "gamma") : 0.01;
                long target = (long)(density * n);
                long nTop = (long)(gamma * n);
                long nBot = n - target - nTop;
                if (nBot < 0)
                {
                    nTop += nBot;
                    nBot = 0;
                }
                e.Keep = Keep.Bits;
                e.NeedsSums = s.Rescale;
                // mergekit keeps indices[n_bot:-n_top] of the ascending order; with n_top == 0 that slice is empty.
                e.KeepsNothing = !(nTop > 0 && n - nTop > nBot);
                e.LowRank = nBot;
                e.HighRank = n - nTop;
                return true;
            }
            case SparsificationMethod.DellaMagprune:
            {
                if (density >= 1)
                    return true;
                if (density <= 0)
                {
                    e.Keep = Keep.Zero;
                    return true;
                }
                double epsilon = m.Parameters.TryGetValue("epsilon", out var ep) && ep is not null ? ParameterValues.ToDouble(ep, "epsilon") : 0.15;
                if (!(density + epsilon < 1 && density - epsilon > 0))
                    return false;
                // Rows along dimension 1: one row for a vector, the rows of a matrix; other ranks go through libtorch.
                if (shape.Length is 0 or > 2 || (shape.Length == 1 ? n : shape[1]) < 2)
                    return false;
                e.Epsilon = epsilon;
                e.MagPrune = true;
                e.Keep = Keep.Bits;
                e.RandomDraw = true;
                e.NeedsSums = s.Rescale;
                return true;
            }
            default:
                return false;
        }
    }

    /// <summary>
    /// Every magnitude cut: TIES' threshold (one windowed pass on large tensors, <see cref="MagnitudeWindow"/>) and
    /// breadcrumbs' window of ranks (two counting passes, <see cref="MagnitudeRanks"/>), then breadcrumbs' masks.
    /// </summary>
    private static void SelectMagnitudes(RawTensor b, List<Expert> experts, long[] bounds, long n)
    {
        int ranges = bounds.Length - 1;
        var cut = experts.Where(e => e.Keep == Keep.Bits && !e.RandomDraw && !e.KeepsNothing).ToList();
        var ties = experts.Where(e => e.Keep == Keep.Magnitude).ToList();
        if (ties.Count > 0 && MagnitudeWindow.Worthwhile(n))
        {
            var clock = PhaseClock.Start();
            var windows = ties.Select(e => SampleWindow(e, b, n, ranges)).ToList();
            PhaseClock.Stop("magnitude: sample", clock);
            clock = PhaseClock.Start();
            try
            {
                var xs = ties.Select(e => e.Input.Data).ToArray();
                KernelParallel.For(ranges, r => WindowPass(b, xs, windows, r, bounds[r], bounds[r + 1]));
                PhaseClock.Stop("magnitude: window pass", clock);
                clock = PhaseClock.Start();
                var resolved = new RankValue?[ties.Count];
                KernelParallel.For(ties.Count, j => resolved[j] = windows[j].Resolve());
                for (int j = 0; j < ties.Count; j++)
                {
                    if (resolved[j] is { } t)
                        SetThreshold(ties[j], t, n);
                    else
                        cut.Add(ties[j]); // the sample misled: count exactly
                }
                PhaseClock.Stop("magnitude: select in window", clock);
            }
            finally
            {
                foreach (var w in windows)
                    w.Dispose();
            }
        }
        else
        {
            cut.AddRange(ties);
        }
        if (cut.Count > 0)
            CountExactly(b, cut, bounds, n);
        MaskWindows(b, experts, bounds, n);
    }

    /// <summary>One range of the windowed pass: every expert's magnitude keys counted against its window, a block at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WindowPass(RawTensor b, RawTensor[] xs, List<MagnitudeWindow> windows, int r, long from, long to)
    {
        int m = xs.Length;
        Span<MagnitudeWindow.Counts> counts = stackalloc MagnitudeWindow.Counts[m];
        Span<Vector256<int>> lo = stackalloc Vector256<int>[m];
        Span<Vector256<int>> hi = stackalloc Vector256<int>[m];
        for (int j = 0; j < m; j++)
            (lo[j], hi[j]) = windows[j].Ends;
        var mask = Vector256.Create(0x7FFFFFFF);
        using var scratch = new KernelScratch(3, VectorBlock.Size);
        float* d = scratch[0], tmp = scratch[1], bBuf = scratch[2];
        for (long start = from; start < to; start += VectorBlock.Size)
        {
            int count = (int)Math.Min(VectorBlock.Size, to - start);
            int padded = KernelBlocks.Padded(count);
            float* pb = VectorBlock.Read(b, start, count, bBuf);
            for (int j = 0; j < m; j++)
            {
                VectorBlock.Delta(xs[j], start, count, pb, d, tmp);
                var window = windows[j];
                var l = lo[j];
                var h = hi[j];
                var c = counts[j]; // in registers for the block
                for (int i = 0; i < padded; i += 8)
                {
                    var valid = i + 8 <= count ? Vector256<int>.AllBitsSet : KernelBlocks.LaneMask(KernelBlocks.ValidLanes(i, count)).AsInt32();
                    window.Count(r, ref c, Vector256.Load((int*)d + i) & mask, valid, l, h);
                }
                counts[j] = c;
            }
        }
        for (int j = 0; j < m; j++)
            windows[j].Flush(r, counts[j]);
    }

    /// <summary>A window around TIES' rank from a sample of the expert's keys.</summary>
    private static MagnitudeWindow SampleWindow(Expert e, RawTensor b, long n, int ranges)
    {
        var sample = new uint[MagnitudeWindow.SampleSize(n)];
        using var scratch = new KernelScratch(3);
        int at = 0;
        foreach (var (start, count) in MagnitudeWindow.SampleRunsOf(n))
        {
            float* pb = KernelBlocks.Read(b, start, count, scratch[0]);
            KeyBlock(e, pb, start, count, scratch[2], (uint*)scratch[1]);
            new Span<uint>((uint*)scratch[1], count).CopyTo(sample.AsSpan(at));
            at += count;
        }
        return MagnitudeWindow.From(sample.AsSpan(0, at), n - e.K, n, ranges);
    }

    private static void SetThreshold(Expert e, RankValue t, long n)
    {
        e.Threshold = t.Key;
        long above = n - t.Below - t.Equal;
        e.KeepEqual = e.K - above; // of the entries equal to the threshold, the first ones in memory order
        e.EqualBefore = t.EqualBefore;
    }

    /// <summary>The two counting passes of <see cref="MagnitudeRanks"/> for the given experts.</summary>
    private static void CountExactly(RawTensor b, List<Expert> cut, long[] bounds, long n)
    {
        int ranges = bounds.Length - 1;
        foreach (var e in cut)
            e.Ranks = new MagnitudeRanks(ranges);

        ForRanges(bounds, 3, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (r, from, to, scratch) =>
        {
            for (long start = from; start < to; start += KernelParallel.Block)
            {
                int count = (int)Math.Min(KernelParallel.Block, to - start);
                float* pb = KernelBlocks.Read(b, start, count, scratch[0]);
                uint* keys = (uint*)scratch[1];
                foreach (var e in cut)
                {
                    KeyBlock(e, pb, start, count, scratch[2], keys);
                    e.Ranks!.CountHigh(r, keys, count);
                }
            }
        });
        foreach (var e in cut)
        {
            if (e.Keep == Keep.Magnitude)
            {
                e.Ranks!.Target(n - e.K);
            }
            else
            {
                e.Ranks!.Target(e.HighRank);
                if (e.LowRank > 0)
                    e.Ranks.Target(e.LowRank);
            }
        }
        ForRanges(bounds, 3, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (r, from, to, scratch) =>
        {
            for (long start = from; start < to; start += KernelParallel.Block)
            {
                int count = (int)Math.Min(KernelParallel.Block, to - start);
                float* pb = KernelBlocks.Read(b, start, count, scratch[0]);
                uint* keys = (uint*)scratch[1];
                foreach (var e in cut)
                {
                    KeyBlock(e, pb, start, count, scratch[2], keys);
                    e.Ranks!.CountLow(r, keys, count);
                }
            }
        });
        foreach (var e in cut.Where(e => e.Keep == Keep.Magnitude))
            SetThreshold(e, e.Ranks!.Resolve(0), n);
    }

    /// <summary>Breadcrumbs' masks: kept where the entry's rank in a stable ascending sort lies in [LowRank, HighRank).</summary>
    private static void MaskWindows(RawTensor b, List<Expert> experts, long[] bounds, long n)
    {
        var windows = experts.Where(e => e.Keep == Keep.Bits && !e.RandomDraw).ToList();
        if (windows.Count == 0)
            return;
        foreach (var e in windows)
            e.Bits = new KeepBits(n);
        var live = windows.Where(e => !e.KeepsNothing).ToList(); // the others keep nothing: their bits stay zero
        var highs = live.Select(e => e.Ranks!.Resolve(0)).ToList();
        var lows = live.Select(e => e.LowRank > 0 ? e.Ranks!.Resolve(1) : null).ToList();
        ForRanges(bounds, 4, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (r, from, to, scratch) =>
        {
            // A stable ascending sort ranks an entry after every smaller key and every equal key before it in memory.
            // Kept: LowRank <= rank < HighRank.
            var seenHigh = highs.Select(h => h.EqualBefore[r]).ToArray();
            var seenLow = lows.Select(l => l?.EqualBefore[r] ?? 0).ToArray();
            for (long start = from; start < to; start += KernelParallel.Block)
            {
                int count = (int)Math.Min(KernelParallel.Block, to - start);
                float* pb = KernelBlocks.Read(b, start, count, scratch[0]);
                uint* keys = (uint*)scratch[1];
                byte* flags = (byte*)scratch[3];
                for (int w = 0; w < live.Count; w++)
                {
                    var e = live[w];
                    var high = highs[w];
                    var low = lows[w];
                    KeyBlock(e, pb, start, count, scratch[2], keys);
                    long highCut = e.HighRank - high.Below, lowCut = low is null ? 0 : e.LowRank - low.Below;
                    uint hk = high.Key, lk = low?.Key ?? 0;
                    long sh = seenHigh[w], sl = seenLow[w];
                    for (int i = 0; i < count; i++)
                    {
                        uint k = keys[i];
                        bool belowHigh = k < hk || (k == hk && sh++ < highCut);
                        bool aboveLow = low is null || k > lk || (k == lk && sl++ >= lowCut);
                        flags[i] = (byte)(belowHigh && aboveLow ? 1 : 0);
                    }
                    seenHigh[w] = sh;
                    seenLow[w] = sl;
                    e.Bits!.Pack(start, flags, count);
                }
            }
        });
    }

    /// <summary>Keys of one expert's block: magnitudes of its delta (TIES' as the radix select saw them, breadcrumbs' as torch.sort orders them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KeyBlock(Expert e, float* pb, long start, int count, float* d, uint* keys)
    {
        float* px = KernelBlocks.Read(e.Input.Data, start, count, d);
        int padded = KernelBlocks.Padded(count);
        KernelBlocks.Subtract(px, pb, d, padded);
        if (e.Keep == Keep.Magnitude)
            KernelBlocks.Keys(d, keys, padded);
        else
            KernelBlocks.SortKeys(d, keys, padded);
    }

    /// <summary>The random masks, drawn from the tensor's generator expert by expert as the libtorch path draws them; the generator is then moved on.</summary>
    private static void Draw(FusedMergeInputs inputs, RawTensor b, List<Expert> experts)
    {
        var mt = TorchMersenneTwister.From(inputs.Random.Value);
        long n = inputs.Count;
        foreach (var e in experts.Where(e => e.RandomDraw))
        {
            e.Bits = new KeepBits(n);
            if (e.MagPrune)
                MagPrune(e, b, mt, inputs.Shape);
            else
                mt.Bernoulli(e.Density, e.Bits.Pointer, n);
        }
        mt.SaveTo(inputs.Random.Value);
    }

    /// <summary>
    /// DELLA's MagPrune mask as the libtorch path computes it: per row, ranks r = 1..w of |delta| (stable), the keep
    /// probability ((r - 1) / (w - 1)) · 2ε + (density - ε) in float32, one float draw per entry in row-major order.
    /// Rows are ranked on all cores, a chunk of rows at a time; the draws for a chunk are made first, in order.
    /// </summary>
    private static void MagPrune(Expert e, RawTensor b, TorchMersenneTwister mt, long[] shape)
    {
        long n = e.Bits!.Count;
        long rows = shape.Length < 2 ? 1 : shape[0];
        int width = (int)(shape.Length < 2 ? n : shape[1]);
        float scale = (float)(2 * e.Epsilon);
        float offset = (float)(e.Density - e.Epsilon);
        float minRank = 0f + 1;
        float maxRank = (float)(width - 1) + 1f;
        float span = maxRank - minRank;
        // Chunks start at a multiple of eight elements so each packs its own bytes.
        long chunkRows = Math.Max(8, (1L << 18) / width / 8 * 8);
        var draws = new float[Math.Min(rows, chunkRows) * width];
        var flags = new byte[draws.Length];
        var x = e.Input.Data;
        int padded = KernelBlocks.Padded(width);
        var work = Enumerable.Range(0, (int)Math.Min(KernelParallel.Workers, rows)).Select(_ => new
        {
            B = new float[padded],
            D = new float[padded],
            Keys = new uint[padded],
            Ranks = new int[width],
            Ranker = new RowRanks(width),
        }).ToArray();
        for (long row0 = 0; row0 < rows; row0 += chunkRows)
        {
            long rowCount = Math.Min(chunkRows, rows - row0);
            long elements = rowCount * width;
            fixed (float* u = draws)
                mt.Uniform24(u, (int)elements);
            int workers = (int)Math.Min(work.Length, rowCount);
            KernelParallel.For(workers, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (wk) =>
            {
                var w = work[wk];
                fixed (float* pbb = w.B, pd = w.D, u = draws)
                fixed (uint* pk = w.Keys)
                fixed (int* pr = w.Ranks)
                fixed (byte* pf = flags)
                {
                    for (long row = wk; row < rowCount; row += workers)
                    {
                        long start = (row0 + row) * width;
                        float* pb = KernelBlocks.Read(b, start, width, pbb);
                        float* px = KernelBlocks.Read(x, start, width, pd);
                        KernelBlocks.Subtract(px, pb, pd, padded);
                        KernelBlocks.SortKeys(pd, pk, padded);
                        w.Ranker.Rank(pk, width, pr);
                        KeepByRank(pr, u + row * width, pf + row * width, width, minRank, span, scale, offset);
                    }
                }
            });
            fixed (byte* pf = flags)
                e.Bits.Pack(row0 * width, pf, elements);
        }
    }

    /// <summary>One row's MagPrune flags: rank r (1-based, in float32) → ((r - min) / span) clamped to [0, 1] · scale + offset, kept where the draw is below it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KeepByRank(int* ranks, float* draws, byte* flags, int width, float minRank, float span, float scale, float offset)
    {
        int i = 0;
        var vMin = Vector256.Create(minRank);
        var vSpan = Vector256.Create(span);
        var vScale = Vector256.Create(scale);
        var vOffset = Vector256.Create(offset);
        for (; i + 8 <= width; i += 8)
        {
            var rank = Vector256.ConvertToSingle(Vector256.Load(ranks + i)) + Vector256<float>.One;
            var norm = Vector256.Max(Vector256.Min((rank - vMin) / vSpan, Vector256<float>.One), Vector256<float>.Zero);
            var p = norm * vScale + vOffset;
            uint keep = Vector256.LessThan(Vector256.Load(draws + i), p).ExtractMostSignificantBits();
            for (int k = 0; k < 8; k++)
                flags[i + k] = (byte)((keep >> k) & 1);
        }
        for (; i < width; i++)
        {
            float rank = (float)ranks[i] + 1f;
            float norm = Math.Clamp((rank - minRank) / span, 0f, 1f);
            float p = norm * scale + offset;
            flags[i] = (byte)(draws[i] < p ? 1 : 0);
        }
    }

    /// <summary>
    /// The L1 rescale of the libtorch path: |delta| and |delta·mask| summed as libtorch's sum() (its chunks, its
    /// cascade), then the kept entries are scaled by before / after where both are at least 1e-7.
    /// </summary>
    private static void Rescale(RawTensor b, List<Expert> experts, long n)
    {
        var scaled = experts.Where(e => e.NeedsSums).ToList();
        int threads = get_num_threads();
        int width = TorchSum.Width;
        var chunks = TorchSum.Chunks(n, threads);
        var before = new float[scaled.Count, chunks.Length];
        var after = new float[scaled.Count, chunks.Length];
        KernelParallel.For(chunks.Length, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (c) =>
        {
            var (from, length) = chunks[c];
            var accBefore = scaled.Select(_ => new TorchSum.Accumulator(length, width)).ToArray();
            var accAfter = scaled.Select(_ => new TorchSum.Accumulator(length, width)).ToArray();
            using var scratch = new KernelScratch(3);
            for (long start = from; start < from + length; start += KernelParallel.Block)
            {
                int count = (int)Math.Min(KernelParallel.Block, from + length - start);
                int padded = KernelBlocks.Padded(count);
                float* pb = KernelBlocks.Read(b, start, count, scratch[0]);
                float* d = scratch[1];
                float* a = scratch[2];
                for (int j = 0; j < scaled.Count; j++)
                {
                    var e = scaled[j];
                    float* px = KernelBlocks.Read(e.Input.Data, start, count, d);
                    KernelBlocks.Subtract(px, pb, d, padded);
                    KernelBlocks.Abs(d, a, padded);
                    accBefore[j].Add(a, count);
                    ApplyBits(e.Bits!, start, d, padded);
                    KernelBlocks.Abs(d, a, padded);
                    accAfter[j].Add(a, count);
                }
            }
            for (int j = 0; j < scaled.Count; j++)
            {
                before[j, c] = accBefore[j].Result();
                after[j, c] = accAfter[j].Result();
            }
        });
        for (int j = 0; j < scaled.Count; j++)
        {
            var bs = new float[chunks.Length];
            var afs = new float[chunks.Length];
            for (int c = 0; c < chunks.Length; c++)
            {
                bs[c] = before[j, c];
                afs[c] = after[j, c];
            }
            double l1Before = TorchSum.Combine(bs, n, threads, width);
            double l1After = TorchSum.Combine(afs, n, threads, width);
            if (l1Before >= 1e-7 && l1After >= 1e-7)
            {
                scaled[j].Scaled = true;
                scaled[j].Scale = (float)(l1Before / l1After);
            }
        }
    }

    /// <summary>d·mask in place: 1 where kept, 0 where not (so a dropped ∞ or NaN becomes NaN, as in libtorch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ApplyBits(KeepBits bits, long start, float* d, int padded)
    {
        for (int i = 0; i < padded; i += 8)
        {
            var m = Vector256.ConditionalSelect(bits.Lanes(start + i).AsSingle(), Vector256<float>.One, Vector256<float>.Zero);
            (Vector256.Load(d + i) * m).Store(d + i);
        }
    }

    /// <summary>
    /// The rescale of the float32 fused path TIES used before (<see cref="FusedTaskArithmetic"/>): |delta| and the
    /// kept |delta| summed in double, element by element in memory order, one expert per core.
    /// </summary>
    private static void RescaleLikeFusedPath(RawTensor b, List<Expert> experts, long[] bounds, long n)
    {
        var cut = experts.Where(e => e.Keep == Keep.Magnitude).ToList();
        KernelParallel.For(cut.Count, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (j) =>
        {
            var e = cut[j];
            using var scratch = new KernelScratch(2);
            double before = 0, after = 0;
            long seen = 0;
            for (long start = 0; start < n; start += KernelParallel.Block)
            {
                int count = (int)Math.Min(KernelParallel.Block, n - start);
                float* pb = KernelBlocks.Read(b, start, count, scratch[0]);
                float* px = KernelBlocks.Read(e.Input.Data, start, count, scratch[1]);
                for (int i = 0; i < count; i++)
                {
                    float d = px[i] - pb[i];
                    before += Math.Abs(d);
                    uint key = BitConverter.SingleToUInt32Bits(d) & 0x7FFFFFFF;
                    bool keep = key > e.Threshold || (key == e.Threshold && seen++ < e.KeepEqual);
                    after += Math.Abs(keep ? d : 0f);
                }
            }
            if (before >= 1e-7 && after >= 1e-7)
            {
                e.Scaled = true;
                e.Scale = (float)(before / after);
            }
        });
    }

    /// <summary>Per-expert state of the last pass, in arrays the per-vector loop indexes.</summary>
    private sealed class CombineState
    {
        public required RawTensor[] X { get; init; }

        public required Keep[] Keep { get; init; }

        public required float[] Weight { get; init; }

        public required int[] Threshold { get; init; }

        public required long[] KeepEqual { get; init; }

        public required KeepBits?[] Bits { get; init; }

        public required bool[] Scaled { get; init; }

        public required float[] Scale { get; init; }

        public required bool Consensus { get; init; }

        public required bool Normalize { get; init; }

        public required float PlainDivisor { get; init; }

        public required bool ScaleByLambda { get; init; }

        public required float Lambda { get; init; }
    }

    /// <summary>The last pass: sparsify each expert's delta, weigh, elect, sum, divide, scale, add the base, round to the output.</summary>
    private static void Combine(RawTensor b, List<Expert> experts, RawTensor output, long[] bounds, Settings s, bool torchFormula)
    {
        var weights = experts.Select(e => e.Weight).ToArray();
        // The fused path summed the weights in float32; the libtorch path in double, rounding the result once.
        float plainDivisor;
        if (torchFormula)
        {
            double sum = experts.Select(e => (double)e.Weight).ToList().Sum();
            plainDivisor = (float)(Math.Abs(sum) < 1e-8 ? 1 : sum);
        }
        else
        {
            float sum = 0;
            foreach (var w in weights)
                sum += w;
            plainDivisor = Math.Abs(sum) < 1e-8 ? 1 : sum;
        }
        var state = new CombineState
        {
            X = experts.Select(e => e.Input.Data).ToArray(),
            Keep = experts.Select(e => e.Keep).ToArray(),
            Weight = weights,
            Threshold = experts.Select(e => (int)e.Threshold).ToArray(),
            KeepEqual = experts.Select(e => e.KeepEqual).ToArray(),
            Bits = experts.Select(e => e.Bits).ToArray(),
            Scaled = experts.Select(e => e.Scaled).ToArray(),
            Scale = experts.Select(e => e.Scale).ToArray(),
            Consensus = s.Consensus is not null,
            Normalize = s.Normalize,
            PlainDivisor = plainDivisor,
            ScaleByLambda = torchFormula ? s.Lambda != 1 : (float)s.Lambda != 1,
            Lambda = (float)s.Lambda,
        };
        KernelParallel.For(bounds.Length - 1, r =>
        {
            var seen = experts.Select(e => e.Keep == Keep.Magnitude ? e.EqualBefore[r] : 0).ToArray();
            if (torchFormula)
                CombineTorch(b, output, state, bounds[r], bounds[r + 1]);
            else
                CombineFused(b, output, state, seen, bounds[r], bounds[r + 1]);
        });
    }

    /// <summary>
    /// One range with <see cref="FusedTaskArithmetic"/>'s arithmetic: TIES' cut (keys above the threshold, and the first
    /// <c>KeepEqual</c> equal to it in memory order; the rest become +0), the weighted deltas summed from zero; with the
    /// sign election those agreeing with the sign of the sum (zero counting as positive) and their weights summed from
    /// zero, a zero divisor taken as one; else the float32 sum of the weights. Block by block, step by step over
    /// buffers in L1 (<see cref="VectorBlock"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CombineFused(RawTensor b, RawTensor output, CombineState st, long[] seen, long from, long to)
    {
        int m = st.X.Length;
        using var scratch = new KernelScratch(5 + m, VectorBlock.Size);
        float* sum = scratch[0], mixed = scratch[1], divisor = scratch[2], tmp = scratch[3], outBuf = scratch[4];
        var zero = Vector256<float>.Zero;
        var one = Vector256<float>.One;
        for (long start = from; start < to; start += VectorBlock.Size)
        {
            int count = (int)Math.Min(VectorBlock.Size, to - start);
            int padded = KernelBlocks.Padded(count);
            float* pb = VectorBlock.Read(b, start, count, outBuf);
            for (int j = 0; j < m; j++)
            {
                float* wd = scratch[5 + j];
                if (st.Keep[j] == Keep.Magnitude)
                {
                    seen[j] = VectorBlock.DeltaKeepLargest(st.X[j], start, count, pb, wd, tmp, st.Threshold[j], seen[j], st.KeepEqual[j]);
                    if (st.Scaled[j])
                        Multiply(wd, st.Scale[j], padded);
                }
                else
                {
                    VectorBlock.Delta(st.X[j], start, count, pb, wd, tmp);
                }
                var w = Vector256.Create(st.Weight[j]);
                for (int i = 0; i < padded; i += 8)
                {
                    var v = Vector256.Load(wd + i) * w;
                    v.Store(wd + i);
                    ((j == 0 ? zero : Vector256.Load(sum + i)) + v).Store(sum + i);
                }
            }
            if (m == 0)
                new Span<float>(sum, padded).Clear();
            if (st.Consensus)
            {
                for (int j = 0; j < m; j++)
                {
                    float* wd = scratch[5 + j];
                    var w = Vector256.Create(st.Weight[j]);
                    for (int i = 0; i < padded; i += 8)
                    {
                        var v = Vector256.Load(wd + i);
                        var positive = Vector256.GreaterThanOrEqual(Vector256.Load(sum + i), zero);
                        var agree = Vector256.ConditionalSelect(positive, Vector256.GreaterThan(v, zero), Vector256.LessThan(v, zero));
                        var mix = j == 0 ? zero : Vector256.Load(mixed + i);
                        var div = j == 0 ? zero : Vector256.Load(divisor + i);
                        (mix + Vector256.ConditionalSelect(agree, v, zero)).Store(mixed + i);
                        (div + Vector256.ConditionalSelect(agree, w, zero)).Store(divisor + i);
                    }
                }
                if (m == 0)
                {
                    new Span<float>(mixed, padded).Clear();
                    new Span<float>(divisor, padded).Clear();
                }
            }
            float* o = KernelBlocks.Target(output, start, count, outBuf == pb ? tmp : outBuf);
            var plain = Vector256.Create(st.PlainDivisor);
            var lam = Vector256.Create(st.Lambda);
            for (int i = 0; i < padded; i += 8)
            {
                Vector256<float> mix, div;
                if (st.Consensus)
                {
                    mix = Vector256.Load(mixed + i);
                    div = Vector256.Load(divisor + i);
                    div = Vector256.ConditionalSelect(Vector256.Equals(div, zero), one, div);
                }
                else
                {
                    mix = Vector256.Load(sum + i);
                    div = plain;
                }
                if (st.Normalize)
                    mix /= div;
                if (st.ScaleByLambda)
                    mix *= lam;
                (Vector256.Load(pb + i) + mix).Store(o + i);
            }
            output.Write(start, count, o);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Multiply(float* d, float factor, int padded)
    {
        var f = Vector256.Create(factor);
        for (int i = 0; i < padded; i += 8)
            (Vector256.Load(d + i) * f).Store(d + i);
    }

    /// <summary>
    /// One range with <see cref="TaskArithmeticFamily"/>'s libtorch arithmetic: d·mask (1 kept, 0 dropped), the L1
    /// scale, the weighted deltas summed from the first one; with the sign election each multiplied by its 0/1
    /// agreement and summed from zero, the divisor likewise; else the weights' double sum rounded once. No expert at
    /// all returns the base.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CombineTorch(RawTensor b, RawTensor output, CombineState st, long from, long to)
    {
        int m = st.X.Length;
        using var scratch = new KernelScratch(5 + m, VectorBlock.Size);
        float* total = scratch[0], mixed = scratch[1], divisor = scratch[2], tmp = scratch[3], outBuf = scratch[4];
        var zero = Vector256<float>.Zero;
        var one = Vector256<float>.One;
        for (long start = from; start < to; start += VectorBlock.Size)
        {
            int count = (int)Math.Min(VectorBlock.Size, to - start);
            int padded = KernelBlocks.Padded(count);
            float* pb = VectorBlock.Read(b, start, count, outBuf);
            float* o = KernelBlocks.Target(output, start, count, outBuf == pb ? tmp : outBuf);
            if (m == 0)
            {
                output.Write(start, count, pb);
                continue;
            }
            for (int j = 0; j < m; j++)
            {
                float* wd = scratch[5 + j];
                VectorBlock.Delta(st.X[j], start, count, pb, wd, tmp);
                if (st.Keep[j] == Keep.Bits)
                    ApplyBits(st.Bits[j]!, start, wd, padded);
                else if (st.Keep[j] == Keep.Zero)
                    new Span<float>(wd, padded).Clear();
                if (st.Scaled[j])
                    Multiply(wd, st.Scale[j], padded);
                var w = Vector256.Create(st.Weight[j]);
                for (int i = 0; i < padded; i += 8)
                {
                    var v = Vector256.Load(wd + i) * w;
                    v.Store(wd + i);
                    (j == 0 ? v : Vector256.Load(total + i) + v).Store(total + i);
                }
            }
            if (st.Consensus)
            {
                for (int j = 0; j < m; j++)
                {
                    float* wd = scratch[5 + j];
                    var w = Vector256.Create(st.Weight[j]);
                    for (int i = 0; i < padded; i += 8)
                    {
                        var v = Vector256.Load(wd + i);
                        var positive = Vector256.GreaterThanOrEqual(Vector256.Load(total + i), zero);
                        var agree = Vector256.ConditionalSelect(positive, Vector256.GreaterThan(v, zero), Vector256.LessThan(v, zero));
                        var maskF = Vector256.ConditionalSelect(agree, one, zero);
                        var mix = j == 0 ? zero : Vector256.Load(mixed + i);
                        var div = j == 0 ? zero : Vector256.Load(divisor + i);
                        (mix + v * maskF).Store(mixed + i);
                        (div + maskF * w).Store(divisor + i);
                    }
                }
            }
            var plain = Vector256.Create(st.PlainDivisor);
            var lam = Vector256.Create(st.Lambda);
            for (int i = 0; i < padded; i += 8)
            {
                Vector256<float> mix, div;
                if (st.Consensus)
                {
                    mix = Vector256.Load(mixed + i);
                    div = Vector256.Load(divisor + i);
                    div = Vector256.ConditionalSelect(Vector256.Equals(div, zero), one, div);
                }
                else
                {
                    mix = Vector256.Load(total + i);
                    div = plain;
                }
                if (st.Normalize)
                    mix /= div;
                if (st.ScaleByLambda)
                    mix *= lam;
                (Vector256.Load(pb + i) + mix).Store(o + i);
            }
            output.Write(start, count, o);
        }
    }

    private delegate void RangeBody(int range, long from, long to, KernelScratch scratch);

    /// <summary>Runs <paramref name="body"/> once per range, ranges on the cores, each with its own scratch.</summary>
    private static void ForRanges(long[] bounds, int buffers, RangeBody body)
    {
        KernelParallel.For(bounds.Length - 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (r) =>
        {
            using var scratch = new KernelScratch(buffers);
            body(r, bounds[r], bounds[r + 1], scratch);
        });
    }
}
