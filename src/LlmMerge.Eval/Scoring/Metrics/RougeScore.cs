using System.Text;

namespace LlmMerge.Eval.Scoring.Metrics;

/// <summary>
/// ROUGE as Google's rouge_score computes it (google-research rouge/: tokenize.py, rouge_scorer.py, scoring.py):
/// text lower-cased, every run of characters other than a-z and 0-9 a space, split on whitespace, tokens longer than
/// three letters Porter-stemmed when asked (<see cref="PorterStemmer"/>), only [a-z0-9]+ tokens kept. ROUGE-N counts
/// clipped n-gram overlaps; ROUGE-L takes the longest common subsequence; ROUGE-Lsum the union LCS of each reference
/// line against all prediction lines, counting each token at most as often as both sides have it. Each gives
/// precision, recall and F = 2PR/(P+R) (0 when both are 0). Hugging Face evaluate's "rouge" reports the F-measures.
/// </summary>
public static class RougeScore
{
    /// <summary>Precision, recall and F-measure of one comparison.</summary>
    public readonly record struct Score(double Precision, double Recall, double FMeasure);

    /// <summary>rouge_score's tokenize(text, stemmer).</summary>
    public static List<string> Tokenize(string text, bool useStemmer)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sb = new StringBuilder(text.Length);
        foreach (char c in text.ToLowerInvariant()) sb.Append(c is >= 'a' and <= 'z' or >= '0' and <= '9' ? c : ' ');
        var tokens = sb.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (useStemmer) tokens = tokens.Select(t => t.Length > 3 ? PorterStemmer.Stem(t) : t).ToList();
        return tokens.Where(t => t.Length > 0 && t.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9')).ToList();
    }

    /// <summary>The score of <paramref name="rougeType"/> (rouge1 ... rouge9, rougeL, rougeLsum) of a prediction against a target.</summary>
    public static Score Compute(string rougeType, string target, string prediction, bool useStemmer)
    {
        ArgumentNullException.ThrowIfNull(rougeType);
        if (rougeType == "rougeLsum")
            return SummaryLcs(Sentences(target, useStemmer), Sentences(prediction, useStemmer));
        var t = Tokenize(target, useStemmer);
        var p = Tokenize(prediction, useStemmer);
        if (rougeType == "rougeL") return Lcs(t, p);
        if (rougeType.Length == 6 && rougeType.StartsWith("rouge", StringComparison.Ordinal) && rougeType[5] is >= '1' and <= '9')
            return Ngrams(t, p, rougeType[5] - '0');
        throw new ArgumentException($"unknown rouge type '{rougeType}'", nameof(rougeType));
    }

    private static Score Ngrams(List<string> target, List<string> prediction, int n)
    {
        var t = Counts(target, n);
        var p = Counts(prediction, n);
        int overlap = t.Sum(kv => Math.Min(kv.Value, p.GetValueOrDefault(kv.Key)));
        double precision = overlap / (double)Math.Max(p.Values.Sum(), 1);
        double recall = overlap / (double)Math.Max(t.Values.Sum(), 1);
        return new Score(precision, recall, F(precision, recall));
    }

    private static Dictionary<string, int> Counts(List<string> tokens, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= tokens.Count; i++)
        {
            string key = string.Join('\u0001', tokens.Skip(i).Take(n));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        return counts;
    }

    private static Score Lcs(List<string> target, List<string> prediction)
    {
        if (target.Count == 0 || prediction.Count == 0) return new Score(0, 0, 0);
        int lcs = LcsTable(target, prediction)[target.Count, prediction.Count];
        double precision = lcs / (double)prediction.Count, recall = lcs / (double)target.Count;
        return new Score(precision, recall, F(precision, recall));
    }

    private static int[,] LcsTable(List<string> reference, List<string> candidate)
    {
        var table = new int[reference.Count + 1, candidate.Count + 1];
        for (int i = 1; i <= reference.Count; i++)
        {
            for (int j = 1; j <= candidate.Count; j++)
            {
                table[i, j] = string.Equals(reference[i - 1], candidate[j - 1], StringComparison.Ordinal)
                    ? table[i - 1, j - 1] + 1
                    : Math.Max(table[i - 1, j], table[i, j - 1]);
            }
        }

        return table;
    }

    // rouge_score's _backtrack_norec: indices into the reference of one longest common subsequence.
    private static List<int> LcsIndices(List<string> reference, List<string> candidate)
    {
        var t = LcsTable(reference, candidate);
        int i = reference.Count, j = candidate.Count;
        var lcs = new List<int>();
        while (i > 0 && j > 0)
        {
            if (string.Equals(reference[i - 1], candidate[j - 1], StringComparison.Ordinal))
            {
                lcs.Insert(0, i - 1);
                i--;
                j--;
            }
            else if (t[i, j - 1] > t[i - 1, j])
            {
                j--;
            }
            else
            {
                i--;
            }
        }

        return lcs;
    }

    private static List<List<string>> Sentences(string text, bool useStemmer) =>
        text.Split('\n').Where(s => s.Length > 0).Select(s => Tokenize(s, useStemmer)).ToList();

    private static Score SummaryLcs(List<List<string>> reference, List<List<string>> candidate)
    {
        if (reference.Count == 0 || candidate.Count == 0) return new Score(0, 0, 0);
        int m = reference.Sum(s => s.Count), n = candidate.Sum(s => s.Count);
        if (m == 0 || n == 0) return new Score(0, 0, 0);
        var refCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var canCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string t in reference.SelectMany(s => s)) refCounts[t] = refCounts.GetValueOrDefault(t) + 1;
        foreach (string t in candidate.SelectMany(s => s)) canCounts[t] = canCounts.GetValueOrDefault(t) + 1;
        int hits = 0;
        foreach (var r in reference)
        {
            var union = candidate.SelectMany(c => LcsIndices(r, c)).Distinct().Order().Select(i => r[i]);
            foreach (string t in union)
            {
                if (canCounts.GetValueOrDefault(t) > 0 && refCounts.GetValueOrDefault(t) > 0)
                {
                    hits++;
                    canCounts[t]--;
                    refCounts[t]--;
                }
            }
        }

        double recall = hits / (double)m, precision = hits / (double)n;
        return new Score(precision, recall, F(precision, recall));
    }

    private static double F(double precision, double recall) =>
        precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
}
