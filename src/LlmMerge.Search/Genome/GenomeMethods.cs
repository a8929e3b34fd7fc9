using LlmMerge.Contracts.Methods;

namespace LlmMerge.Search.Genome;

/// <summary>
/// Which parameters a genome tunes per method. mergekit's METHOD_PARAM_MAPS (mergekit/evo/genome.py at a6e40288) for
/// its five methods; for our other methods, the per-model <c>weight</c> and <c>density</c> they take, in that order
/// (weight first, as mergekit's layout assumes). slerp's <c>t</c> comes from the two largest weights.
/// </summary>
public static class GenomeMethods
{
    private static readonly Dictionary<string, string[]> Mergekit = new(StringComparer.Ordinal)
    {
        ["linear"] = ["weight"],
        ["task_arithmetic"] = ["weight"],
        ["ties"] = ["weight", "density"],
        ["dare_ties"] = ["weight", "density"],
        ["slerp"] = ["t"],
    };

    /// <summary>The tuned parameters of <paramref name="method"/>, or an empty list where it has none a genome can tune.</summary>
    public static IReadOnlyList<string> Parameters(string method)
    {
        if (Mergekit.TryGetValue(method, out var known))
            return known;
        var descriptor = MethodDescriptors.Find(method);
        if (descriptor is null)
            return [];
        return new[] { "weight", "density" }.Where(n => descriptor.Find(n) is { PerModel: true }).ToArray();
    }

    /// <summary>Methods a genome can name, for messages.</summary>
    public static IReadOnlyList<string> Tunable =>
        MethodDescriptors.Names.Where(n => Parameters(n).Count > 0).ToList();

    /// <summary>mergekit requires a base model for these; ours also for any method whose descriptor needs one.</summary>
    public static bool NeedsBase(string method) =>
        method is "ties" or "dare_ties" or "task_arithmetic" || (method != "slerp" && MethodDescriptors.Find(method)?.NeedsBase == true);

    /// <summary>Whether the method declares a global parameter (normalize, int8_mask), so the recipe may set it.</summary>
    public static bool Takes(string method, string parameter) => MethodDescriptors.Find(method)?.Find(parameter) is { PerModel: false };
}
