using System.Text;

namespace LlmMerge.Eval.Scoring;

/// <summary>lm-eval's multiple-choice predictions (ConfigurableTask.process_results): acc's argmax and acc_norm's length-normalized argmax.</summary>
public static class ChoiceMetrics
{
    /// <summary>Index of the largest value; the first wins ties, as numpy's argmax and torch.max.</summary>
    public static int ArgMax(IReadOnlyList<double> values)
    {
        int best = 0;
        for (int i = 1; i < values.Count; i++)
        {
            if (values[i] > values[best]) best = i;
        }

        return best;
    }

    /// <summary>
    /// acc_norm's prediction: argmax of log-likelihood / len(choice). lm-eval takes <c>len()</c> of the Python
    /// string, which counts Unicode code points (the same as bytes for ASCII text); an empty choice never wins.
    /// </summary>
    public static int ArgMaxNormalized(IReadOnlyList<double> logLikelihoods, IReadOnlyList<string> choices)
    {
        var normalized = new double[logLikelihoods.Count];
        for (int i = 0; i < normalized.Length; i++)
        {
            int length = CodePoints(choices[i]);
            normalized[i] = length == 0 ? double.NegativeInfinity : logLikelihoods[i] / length;
        }

        return ArgMax(normalized);
    }

    /// <summary>Python's len() of <paramref name="s"/>: Unicode code points, not UTF-16 units.</summary>
    public static int CodePoints(string s)
    {
        int n = 0;
        foreach (Rune _ in s.EnumerateRunes()) n++;
        return n;
    }
}
