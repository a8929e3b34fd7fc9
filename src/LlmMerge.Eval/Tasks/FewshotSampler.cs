namespace LlmMerge.Eval.Tasks;

/// <summary>
/// Picks few-shot examples as lm-eval's samplers do: one seeded generator per task (seed 1234, lm-eval's
/// fewshot_random_seed), drawn in row order, so a run is reproducible and the first N rows of a --limit run get
/// the same examples as in a full run. When the examples come from the split being scored, one extra example is
/// drawn and the row itself is dropped, as lm-eval does. The generator is SplitMix64 with a sparse Fisher-Yates
/// draw rather than Python's Mersenne Twister, so which examples are picked differs from lm-eval's (the rule
/// does not).
/// </summary>
public sealed class FewshotSampler
{
    /// <summary>lm-eval's default few-shot seed.</summary>
    public const ulong DefaultSeed = 1234;

    private readonly int _count;
    private readonly bool _firstN;
    private ulong _state;

    /// <summary>A sampler over <paramref name="count"/> candidate examples; <paramref name="firstN"/> takes them in order (lm-eval's first_n sampler).</summary>
    public FewshotSampler(int count, bool firstN, ulong seed = DefaultSeed)
    {
        _count = count;
        _firstN = firstN;
        _state = seed;
    }

    /// <summary>Indices of up to <paramref name="k"/> examples, leaving out <paramref name="exclude"/> (the scored row, when it is a candidate).</summary>
    public IReadOnlyList<int> Draw(int k, int? exclude)
    {
        int n = exclude is null ? k : k + 1;
        n = Math.Min(n, _count);
        List<int> picked = _firstN ? Enumerable.Range(0, n).ToList() : Sample(n);
        return picked.Where(i => i != exclude).Take(k).ToList();
    }

    // Partial Fisher-Yates over 0..count-1, keeping only the swapped positions.
    private List<int> Sample(int n)
    {
        var swapped = new Dictionary<int, int>();
        var result = new List<int>(n);
        for (int i = 0; i < n; i++)
        {
            int j = i + (int)Below((ulong)(_count - i));
            int atJ = swapped.TryGetValue(j, out int vj) ? vj : j;
            int atI = swapped.TryGetValue(i, out int vi) ? vi : i;
            swapped[j] = atI;
            result.Add(atJ);
        }

        return result;
    }

    private ulong Below(ulong bound)
    {
        // Rejection keeps the draw uniform.
        ulong limit = ulong.MaxValue - (ulong.MaxValue % bound);
        while (true)
        {
            ulong r = Next();
            if (r < limit) return r % bound;
        }
    }

    private ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
