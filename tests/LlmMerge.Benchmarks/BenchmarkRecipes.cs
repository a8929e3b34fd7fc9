using System.Globalization;

namespace LlmMerge.Benchmarks;

/// <summary>
/// The merges the benchmark times, one per fused method, over the generated base and three experts: each method's
/// recipe (written next to the models) and the same numbers for the baselines that compute it mergekit's way.
/// </summary>
public static class BenchmarkRecipes
{
    public static readonly string[] Experts = ["expert-1", "expert-2", "expert-3"];

    /// <summary>Weights of expert-1..3 (linear also weighs the base, first).</summary>
    public static readonly double[] Weights = [1.0, 0.8, 0.6];

    public const double Density = 0.5;

    public const double Gamma = 0.01;

    public const double Epsilon = 0.15;

    public const double T = 0.5;

    public const double BaseWeightInLinear = 1.0;

    public static readonly string[] Methods = ["ties", "task_arithmetic", "linear", "dare_ties", "breadcrumbs", "della", "slerp"];

    /// <summary>The models a method reads (slerp interpolates the base and one expert).</summary>
    public static string[] Models(string method) => method == "slerp" ? ["base", "expert-1"] : ["base", .. Experts];

    public static string Yaml(string method)
    {
        var ci = CultureInfo.InvariantCulture;
        string head = $"merge_method: {method}\ndtype: float32\nout_dtype: bfloat16\n";
        switch (method)
        {
            case "slerp":
                return head + $"base_model: base\nparameters: {{t: {T.ToString(ci)}}}\nmodels:\n  - model: base\n  - model: expert-1\n";
            case "linear":
                return head + "parameters: {normalize: true}\nmodels:\n"
                    + $"  - model: base\n    parameters: {{weight: {BaseWeightInLinear.ToString(ci)}}}\n"
                    + string.Concat(Experts.Select((e, i) => $"  - model: {e}\n    parameters: {{weight: {Weights[i].ToString(ci)}}}\n"));
            default:
                string extra = method switch
                {
                    "breadcrumbs" => $", gamma: {Gamma.ToString(ci)}",
                    "della" => $", epsilon: {Epsilon.ToString(ci)}",
                    _ => "",
                };
                string density = method == "task_arithmetic" ? "" : $", density: {Density.ToString(ci)}{extra}";
                // ties normalizes by default; the others are set explicitly so every contender computes the same.
                string normalize = method is "ties" or "dare_ties" or "della" ? "true" : "false";
                return head + $"base_model: base\nparameters: {{normalize: {normalize}}}\nmodels:\n"
                    + string.Concat(Experts.Select((e, i) => $"  - model: {e}\n    parameters: {{weight: {Weights[i].ToString(ci)}{density}}}\n"));
        }
    }

    /// <summary>Writes every method's recipe as METHOD.yml into the benchmark folder.</summary>
    public static void WriteAll(string dir)
    {
        foreach (var m in Methods)
            File.WriteAllText(Path.Combine(dir, m + ".yml"), Yaml(m));
    }
}
