using System.Text.RegularExpressions;
using LlmMerge.Tokenizers.Pipeline;

namespace LlmMerge.Tokenizers;

/// <summary>Trains a byte-level BPE (GPT-2's scheme) from a corpus, so the project can make its own tokenizer.</summary>
public static class ByteLevelBpeTrainer
{
    private static readonly Regex Gpt2Split = new(HfPreTokenizer.Gpt2Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>
    /// Special tokens take ids 0.., the 256 byte symbols follow in byte order, then each merge's new token. Merges
    /// join the most frequent adjacent pair within the GPT-2-split words until <paramref name="vocabSize"/> is reached
    /// or no pair is left; ties go to the ordinally smallest (left, right), so the result depends on the corpus only.
    /// </summary>
    public static ByteLevelBpeModel Train(IEnumerable<string> corpus, int vocabSize, IEnumerable<string> specialTokens)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(specialTokens);
        List<string> specials = specialTokens.Distinct(StringComparer.Ordinal).ToList();
        if (vocabSize < specials.Count + 256)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, $"a byte-level vocabulary needs at least {specials.Count + 256} ids (the special tokens and 256 bytes).");

        var tokens = new List<string>(vocabSize);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string s in specials) Add(s);
        for (int b = 0; b < 256; b++) Add(ByteLevelMapping.ToChar((byte)b).ToString());

        // Distinct words with their counts; each word is a list of symbol ids.
        var wordCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string text in corpus)
        {
            for (Match m = Gpt2Split.Match(text); m.Success; m = m.NextMatch())
            {
                if (m.Length == 0) continue;
                string word = ByteLevelMapping.Encode(m.Value);
                wordCounts[word] = wordCounts.GetValueOrDefault(word) + 1;
            }
        }

        var words = new List<List<int>>();
        var counts = new List<long>();
        foreach (var (word, count) in wordCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            words.Add(word.Select(c => vocab[c.ToString()]).ToList());
            counts.Add(count);
        }

        var pairCounts = new Dictionary<(int, int), long>();
        var pairWords = new Dictionary<(int, int), HashSet<int>>();
        for (int w = 0; w < words.Count; w++) CountPairs(w, +1);

        var merges = new List<(string, string)>();
        while (tokens.Count < vocabSize)
        {
            (int, int)? best = null;
            long bestCount = 0;
            foreach (var (pair, count) in pairCounts)
            {
                if (count <= 0) continue;
                if (best is null || count > bestCount || (count == bestCount && ComparePairs(pair, best.Value) < 0))
                {
                    best = pair;
                    bestCount = count;
                }
            }

            if (best is not (int left, int right)) break;
            string merged = tokens[left] + tokens[right];
            int newId = vocab.TryGetValue(merged, out int existing) ? existing : Add(merged);
            merges.Add((tokens[left], tokens[right]));

            foreach (int w in pairWords[(left, right)].ToList())
            {
                CountPairs(w, -1);
                List<int> symbols = words[w];
                for (int i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] == left && symbols[i + 1] == right)
                    {
                        symbols[i] = newId;
                        symbols.RemoveAt(i + 1);
                    }
                }

                CountPairs(w, +1);
            }
        }

        return new ByteLevelBpeModel(vocab, merges, specials);

        int Add(string token)
        {
            vocab[token] = tokens.Count;
            tokens.Add(token);
            return tokens.Count - 1;
        }

        int ComparePairs((int L, int R) a, (int L, int R) b)
        {
            int c = string.CompareOrdinal(tokens[a.L], tokens[b.L]);
            return c != 0 ? c : string.CompareOrdinal(tokens[a.R], tokens[b.R]);
        }

        void CountPairs(int w, int sign)
        {
            List<int> symbols = words[w];
            for (int i = 0; i + 1 < symbols.Count; i++)
            {
                var pair = (symbols[i], symbols[i + 1]);
                long c = pairCounts.GetValueOrDefault(pair) + (sign * counts[w]);
                if (c == 0)
                {
                    pairCounts.Remove(pair);
                    pairWords.Remove(pair);
                }
                else
                {
                    pairCounts[pair] = c;
                    if (sign > 0)
                    {
                        if (!pairWords.TryGetValue(pair, out var set)) pairWords[pair] = set = [];
                        set.Add(w);
                    }
                }
            }
        }
    }
}
