using System.Text;
using LlmMerge.Eval.Tasks;

namespace LlmMerge.Eval.Scoring.Metrics;

/// <summary>
/// lm-eval's exact_match (exact_match_hf_evaluate in lm_eval/api/metrics.py at 4e7e0d47, after Hugging Face
/// evaluate's): regexes_to_ignore removed from both texts in order, then lower case (ignore_case), then Python's
/// string.punctuation removed (ignore_punctuation), then the digits (ignore_numbers); 1 when the texts are then equal.
/// With several references lm-eval scores 1 when any matches.
/// </summary>
public static class ExactMatch
{
    private const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    public static double Score(string prediction, IReadOnlyList<string> references, MetricSpec spec)
    {
        ArgumentNullException.ThrowIfNull(references);
        ArgumentNullException.ThrowIfNull(spec);
        string p = Normalize(prediction, spec);
        return references.Any(r => string.Equals(Normalize(r, spec), p, StringComparison.Ordinal)) ? 1 : 0;
    }

    public static string Normalize(string text, MetricSpec spec)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(spec);
        foreach (var regex in spec.RegexesToIgnore ?? []) text = regex.Replace(text, "");
        if (spec.IgnoreCase) text = text.ToLowerInvariant();
        if (spec.IgnorePunctuation || spec.IgnoreNumbers)
        {
            var sb = new StringBuilder(text.Length);
            foreach (char c in text)
            {
                if (spec.IgnorePunctuation && Punctuation.Contains(c)) continue;
                if (spec.IgnoreNumbers && c is >= '0' and <= '9') continue;
                sb.Append(c);
            }

            text = sb.ToString();
        }

        return text;
    }
}
