namespace LlmMerge.Eval.Tasks;

/// <summary>One step of a filter chain: an lm-eval filter (lm_eval/filters at 4e7e0d47) and its arguments.</summary>
/// <param name="Function">regex, take_first, majority_vote, lowercase, uppercase or remove_whitespace.</param>
/// <param name="RegexPattern">regex: the pattern, converted to .NET's syntax.</param>
/// <param name="GroupSelect">regex: which of the matches (Python list index, negative from the end).</param>
/// <param name="Fallback">regex: the answer when nothing matches.</param>
public sealed record FilterStep(string Function, System.Text.RegularExpressions.Regex? RegexPattern = null, int GroupSelect = 0, string Fallback = "[invalid]");

/// <summary>
/// One entry of a task's <c>filter_list</c>: a name (the metric keys' suffix, <c>exact_match,strict-match</c>) and the
/// steps applied in order to a row's generations, ending with take_first so one answer is scored.
/// </summary>
public sealed record FilterChain(string Name, IReadOnlyList<FilterStep> Steps)
{
    /// <summary>lm-eval's chain when a task has no filter_list: "none", take_first.</summary>
    public static FilterChain None { get; } = new("none", [new FilterStep("take_first")]);
}

/// <summary>A metric of a task's metric_list with its options.</summary>
/// <param name="Name">acc, acc_norm, exact_match or rouge.</param>
/// <param name="IgnoreCase">exact_match: compare lower-cased.</param>
/// <param name="IgnorePunctuation">exact_match: drop ASCII punctuation (Python's string.punctuation) first.</param>
/// <param name="IgnoreNumbers">exact_match: drop the digits 0-9 first.</param>
/// <param name="RegexesToIgnore">exact_match: patterns removed from both sides first, in order.</param>
/// <param name="UseStemmer">rouge: Porter-stem tokens longer than 3 letters.</param>
/// <param name="RougeTypes">rouge: which of rouge1, rouge2, rougeL, rougeLsum to report.</param>
public sealed record MetricSpec(
    string Name,
    bool IgnoreCase = false,
    bool IgnorePunctuation = false,
    bool IgnoreNumbers = false,
    IReadOnlyList<System.Text.RegularExpressions.Regex>? RegexesToIgnore = null,
    bool UseStemmer = false,
    IReadOnlyList<string>? RougeTypes = null);
