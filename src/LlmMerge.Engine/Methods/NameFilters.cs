using System.Text.RegularExpressions;
using LlmMerge.Core;

namespace LlmMerge.Engine.Methods;

/// <summary>The <c>exclude</c> list parameter of the FusionBench methods: which tensors a method leaves to its fallback.</summary>
internal static class NameFilters
{
    /// <summary>The strings of a list parameter's value (a YAML list, or one string); empty for null.</summary>
    public static IReadOnlyList<string> Of(object? value, string method, string parameter) => value switch
    {
        null => [],
        object[] items => items.Select(i => i as string ?? throw new LlmMergeException($"{method}: parameter '{parameter}' must list tensor names, not '{i}'")).ToList(),
        string one => one.Length == 0 ? [] : [one],
        _ => throw new LlmMergeException($"{method}: parameter '{parameter}' must be a list of tensor names, not '{value}'"),
    };

    /// <summary>
    /// FusionBench's <c>exclude_keys</c> (tsv, iso_c, iso_cts) compares whole tensor names; a filter here also matches
    /// a name that contains it, as mergekit's parameter filters do, so <c>lm_head</c> excludes <c>lm_head.weight</c>.
    /// </summary>
    public static bool Excludes(IReadOnlyList<string> filters, string tensorName) =>
        filters.Any(f => tensorName.Contains(f, StringComparison.Ordinal));

    /// <summary>FusionBench's <c>exclude_param_names_regex</c> (regmean, fisher): Python's <c>re.match</c>, anchored at the start only.</summary>
    public static bool ExcludesByRegex(IReadOnlyList<string> patterns, string tensorName, string method)
    {
        foreach (var p in patterns)
        {
            Regex r;
            try { r = new Regex(@"\G(?:" + p + ")", RegexOptions.CultureInvariant); }
            catch (ArgumentException e) { throw new LlmMergeException($"{method}: parameter 'exclude' entry '{p}' is not a valid regular expression: {e.Message}"); }
            if (r.IsMatch(tensorName))
                return true;
        }
        return false;
    }
}
