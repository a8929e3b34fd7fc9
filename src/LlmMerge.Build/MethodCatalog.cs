namespace LlmMerge.Build;

/// <summary>
/// The merge methods the engine registers and the parameters each reads, so a graph fails at its item's line
/// before anything runs. The engine (LlmMerge.Engine's MergeMethodRegistry) stays the authority: a recipe this
/// table lets through and the engine refuses still fails, at the step's line, when the step runs.
/// </summary>
internal static class MethodCatalog
{
    internal sealed record Method(string Name, bool NeedsBase, string[] Global, string[] PerModel);

    private static readonly string[] TaskArithmeticGlobals = ["normalize", "rescale", "lambda"];

    private static readonly Method[] Methods =
    [
        new("linear", false, ["normalize"], ["weight"]),
        new("task_arithmetic", true, TaskArithmeticGlobals, ["weight", "density"]),
        new("ties", true, TaskArithmeticGlobals, ["weight", "density"]),
        new("dare_ties", true, TaskArithmeticGlobals, ["weight", "density"]),
        new("dare_linear", true, TaskArithmeticGlobals, ["weight", "density"]),
        new("breadcrumbs", true, TaskArithmeticGlobals, ["weight", "density", "gamma"]),
        new("breadcrumbs_ties", true, TaskArithmeticGlobals, ["weight", "density", "gamma"]),
        new("slerp", true, ["t"], []),
    ];

    public static IEnumerable<string> Names => Methods.Select(m => m.Name);

    public static Method? Find(string name) => Methods.FirstOrDefault(m => m.Name == name);

    /// <summary>Item metadata name to mergekit's parameter name: Density → density, Int8Mask → int8_mask.</summary>
    public static string ParameterName(string metadata)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < metadata.Length; i++)
        {
            char c = metadata[i];
            if (char.IsUpper(c) && i > 0 && !char.IsUpper(metadata[i - 1]))
                sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>The range a parameter's numbers must lie in, or null when any number will do.</summary>
    public static (double Min, double Max)? Range(string parameter) => parameter switch
    {
        "density" => (0.0, 1.0),
        "gamma" => (0.0, 1.0),
        "t" => (0.0, 1.0),
        _ => null,
    };

    public static bool IsBoolean(string parameter) => parameter is "normalize" or "rescale" or "int8_mask";
}
