using LlmMerge.Eval.Tasks;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// lm-eval's filters (lm_eval/filters/extraction.py, selection.py, transformation.py at 4e7e0d47) applied to one
/// row's generations (one per repeat), step by step, down to the one answer take_first leaves.
/// </summary>
public static class AnswerFilters
{
    /// <summary>The answer <paramref name="chain"/> makes of <paramref name="responses"/>.</summary>
    public static string Apply(FilterChain chain, IReadOnlyList<string> responses)
    {
        ArgumentNullException.ThrowIfNull(chain);
        List<string> current = responses.ToList();
        foreach (FilterStep step in chain.Steps)
        {
            switch (step.Function)
            {
                case "take_first":
                    return current.Count > 0 ? current[0] : "";
                case "regex":
                    current = current.Select(r => Regex(step, r)).ToList();
                    break;
                case "majority_vote":
                    current = current.Count == 0 ? current : [MajorityVote(current)];
                    break;
                case "lowercase":
                    current = current.Select(r => r.ToLowerInvariant()).ToList();
                    break;
                case "uppercase":
                    current = current.Select(r => r.ToUpperInvariant()).ToList();
                    break;
                case "remove_whitespace":
                    current = current.Select(r => r.Trim()).ToList();
                    break;
                default:
                    throw new InvalidOperationException($"filter function '{step.Function}' is not implemented");
            }
        }

        // TaskConfig makes every chain end with take_first.
        throw new InvalidOperationException($"filter chain '{chain.Name}' does not end with take_first");
    }

    /// <summary>
    /// RegexFilter: findall, pick the group_select-th match (Python indexing; out of range takes the fallback, where
    /// lm-eval would stop with an IndexError), the first non-empty group of a multi-group match, stripped.
    /// </summary>
    public static string Regex(FilterStep step, string response)
    {
        ArgumentNullException.ThrowIfNull(step);
        var matches = PythonRegex.FindAll(step.RegexPattern!, response);
        if (matches.Count == 0) return step.Fallback;
        int i = step.GroupSelect < 0 ? matches.Count + step.GroupSelect : step.GroupSelect;
        if (i < 0 || i >= matches.Count) return step.Fallback;
        object match = matches[i];
        if (match is List<string> groups)
        {
            string? first = groups.FirstOrDefault(g => g.Length > 0);
            if (first is null) return step.Fallback;
            match = first;
        }

        return ((string)match).Trim();
    }

    /// <summary>MajorityVoteFilter: Counter.most_common(1), so among equally common answers the first seen wins.</summary>
    public static string MajorityVote(IReadOnlyList<string> answers)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string a in answers) counts[a] = counts.GetValueOrDefault(a) + 1;
        int best = counts.Values.Max();
        return answers.First(a => counts[a] == best);
    }
}
