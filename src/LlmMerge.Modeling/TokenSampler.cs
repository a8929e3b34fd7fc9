namespace LlmMerge.Modeling;

/// <summary>Draws tokens from logits as <see cref="SamplingSettings"/> say, from its own seeded stream (SplitMix64).</summary>
public sealed class TokenSampler
{
    private readonly SamplingSettings _settings;
    private ulong _state;

    public TokenSampler(SamplingSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!(settings.Temperature > 0)) throw new ArgumentOutOfRangeException(nameof(settings), settings.Temperature, "sampling needs a temperature above 0");
        if (settings.TopK < 0) throw new ArgumentOutOfRangeException(nameof(settings), settings.TopK, "top_k must be 0 (off) or more");
        if (!(settings.TopP > 0 && settings.TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(settings), settings.TopP, "top_p must be in (0, 1]");
        _settings = settings;
        _state = settings.Seed;
    }

    /// <summary>The next token for one row's logits over the vocabulary.</summary>
    public int Next(ReadOnlySpan<float> logits)
    {
        int vocab = logits.Length;
        var scaled = new double[vocab];
        for (int i = 0; i < vocab; i++) scaled[i] = logits[i] / _settings.Temperature;

        // TopKLogitsWarper keeps every token whose logit is not below the k-th largest, ties included; the
        // candidates are then ordered by descending logit (ties by id), the order the draw walks.
        int k = _settings.TopK > 0 ? Math.Min(_settings.TopK, vocab) : vocab;
        double kth = k < vocab ? KthLargest(scaled, k) : double.NegativeInfinity;
        int[] order = Enumerable.Range(0, vocab).Where(i => scaled[i] >= kth).ToArray();
        Array.Sort(order, (a, b) => scaled[a] != scaled[b] ? scaled[b].CompareTo(scaled[a]) : a.CompareTo(b));
        int kept = order.Length;

        double max = scaled[order[0]];
        var probs = new double[kept];
        double total = 0;
        for (int i = 0; i < kept; i++) total += probs[i] = Math.Exp(scaled[order[i]] - max);
        for (int i = 0; i < kept; i++) probs[i] /= total;

        if (_settings.TopP < 1)
        {
            // TopPLogitsWarper: drop, from the least likely up, the tokens whose cumulative probability (in ascending
            // order) stays at or below 1 - top_p; the most likely token always stays.
            double cumulative = 0;
            int keep = kept;
            for (int i = kept - 1; i > 0; i--)
            {
                cumulative += probs[i];
                if (cumulative <= 1 - _settings.TopP) keep = i;
                else break;
            }

            kept = keep;
            total = 0;
            for (int i = 0; i < kept; i++) total += probs[i];
            for (int i = 0; i < kept; i++) probs[i] /= total;
        }

        double u = (NextUInt64() >> 11) * (1.0 / (1UL << 53));
        double acc = 0;
        for (int i = 0; i < kept; i++)
        {
            acc += probs[i];
            if (u < acc) return order[i];
        }

        return order[kept - 1];
    }

    // Quickselect on a copy: the k-th largest value (1-based).
    private static double KthLargest(double[] values, int k)
    {
        var a = (double[])values.Clone();
        int lo = 0, hi = a.Length - 1, target = k - 1;
        while (true)
        {
            if (lo == hi) return a[lo];
            double pivot = a[(lo + hi) >>> 1];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] > pivot) i++;
                while (a[j] < pivot) j--;
                if (i <= j)
                {
                    (a[i], a[j]) = (a[j], a[i]);
                    i++;
                    j--;
                }
            }

            if (target <= j) hi = j;
            else if (target >= i) lo = i;
            else return a[target];
        }
    }

    private ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
