namespace LlmMerge.Engine.Kernels;

/// <summary>
/// How fused kernels split a tensor over the cores: contiguous ranges (so each core streams its own memory and no
/// two write the same cache line), a few per core on large tensors so a core slowed by other work is helped out.
/// </summary>
internal static class KernelParallel
{
    /// <summary>Elements a kernel processes at once per input, in stack-sized float32 scratch (16 KB).</summary>
    public const int Block = 4096;

    /// <summary>Below this many elements a tensor is processed on one core: spreading it would cost more than it saves.</summary>
    private const long SmallTensor = 1 << 17;

    /// <summary>About this many elements per range on large tensors.</summary>
    private const long RangeTarget = 1 << 22;

    public static int Workers => Environment.ProcessorCount;

    /// <summary>Range boundaries (count + 1 entries, multiples of <see cref="Block"/> except the last) for <paramref name="n"/> elements.</summary>
    public static long[] Ranges(long n)
    {
        int count;
        if (n < SmallTensor || Workers == 1)
            count = 1;
        else
        {
            long perCore = Math.Clamp((n + RangeTarget * Workers - 1) / (RangeTarget * Workers), 1, 4);
            count = (int)Math.Min(Workers * perCore, (n + Block - 1) / Block);
        }
        var bounds = new long[count + 1];
        long blocks = (n + Block - 1) / Block;
        for (int r = 1; r < count; r++)
            bounds[r] = blocks * r / count * Block;
        bounds[count] = n;
        return bounds;
    }

    /// <summary>Runs <paramref name="body"/> for 0..count-1 on the cores (inline when there is one).</summary>
    public static void For(int count, Action<int> body)
    {
        if (count == 1)
        {
            body(0);
            return;
        }
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Workers }, body);
    }
}
