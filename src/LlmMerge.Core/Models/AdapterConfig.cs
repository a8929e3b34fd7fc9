using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace LlmMerge.Core.Models;

/// <summary>
/// A PEFT LoRA adapter's <c>adapter_config.json</c>: rank, alpha, target modules and the switches that change how
/// B·A is added to the base weight (rsLoRA scaling, <c>fan_in_fan_out</c>), with PEFT's defaults where a key is absent.
/// </summary>
public sealed class AdapterConfig
{
    public required string Path { get; init; }

    public required int Rank { get; init; }

    public required double Alpha { get; init; }

    /// <summary>Module names (matched as PEFT does: equal, or the name ends with "." + target) or null when given as a regex.</summary>
    public IReadOnlyList<string>? TargetModules { get; init; }

    /// <summary>A string <c>target_modules</c>: a regular expression the whole module name must match (or <c>all-linear</c>).</summary>
    public string? TargetModulesPattern { get; init; }

    public bool UseRsLora { get; init; }

    /// <summary>The base stores the weight as [in, out] (GPT-2's Conv1D), so B·A is transposed before it is added.</summary>
    public bool FanInFanOut { get; init; }

    public string? BaseModelNameOrPath { get; init; }

    public IReadOnlyDictionary<string, int> RankPattern { get; init; } = new Dictionary<string, int>();

    public IReadOnlyDictionary<string, double> AlphaPattern { get; init; } = new Dictionary<string, double>();

    /// <summary>Reads and checks an adapter_config.json; errors name the file and the key.</summary>
    public static AdapterConfig Load(string path)
    {
        JsonObject o;
        try
        {
            o = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new LlmMergeException($"{path}: adapter_config.json is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new LlmMergeException($"{path}: not valid JSON ({e.Message})", e);
        }

        string? peftType = Str(o, "peft_type", path);
        if (peftType is not null && !peftType.Equals("LORA", StringComparison.OrdinalIgnoreCase))
            throw new LlmMergeException($"{path}: peft_type is '{peftType}'; only LoRA adapters can be merged");
        if (Bool(o, "use_dora", path))
            throw new LlmMergeException($"{path}: use_dora is true; DoRA adapters are not supported, merge the adapter into its base with PEFT first");
        if (Bool(o, "lora_bias", path))
            throw new LlmMergeException($"{path}: lora_bias is true; LoRA biases are not supported, merge the adapter into its base with PEFT first");

        int rank = o["r"] is JsonValue rv && rv.TryGetValue(out int r) && r > 0
            ? r
            : throw new LlmMergeException($"{path}: 'r' (the LoRA rank) must be a positive integer");
        // PEFT's LoraConfig defaults: lora_alpha 8, no rsLoRA, fan_in_fan_out false.
        double alpha = o["lora_alpha"] is null ? 8 : Num(o, "lora_alpha", path);

        IReadOnlyList<string>? targets = null;
        string? pattern = null;
        switch (o["target_modules"])
        {
            case null:
                break;
            case JsonArray a:
                targets = a.Select(x => x is JsonValue v && v.TryGetValue(out string? s) ? s : throw new LlmMergeException($"{path}: target_modules must list module names")).ToList();
                break;
            case JsonValue v when v.TryGetValue(out string? s):
                pattern = s;
                break;
            default:
                throw new LlmMergeException($"{path}: target_modules must be a list of module names or a regular expression");
        }

        return new AdapterConfig
        {
            Path = path,
            Rank = rank,
            Alpha = alpha,
            TargetModules = targets,
            TargetModulesPattern = pattern,
            UseRsLora = Bool(o, "use_rslora", path),
            FanInFanOut = Bool(o, "fan_in_fan_out", path),
            BaseModelNameOrPath = Str(o, "base_model_name_or_path", path),
            RankPattern = Map(o, "rank_pattern", path).ToDictionary(kv => kv.Key, kv => (int)kv.Value),
            AlphaPattern = Map(o, "alpha_pattern", path),
        };
    }

    /// <summary>PEFT's scaling of one module: alpha / r, or alpha / sqrt(r) with rsLoRA, after rank_pattern and alpha_pattern.</summary>
    public double Scale(string module) => EffectiveAlpha(module) / (UseRsLora ? Math.Sqrt(EffectiveRank(module)) : EffectiveRank(module));

    /// <summary>The rank PEFT gives a module: the first rank_pattern key that matches its name, else r.</summary>
    public int EffectiveRank(string module) => PatternValue(RankPattern, module) ?? Rank;

    public double EffectiveAlpha(string module) => PatternValue(AlphaPattern, module) ?? Alpha;

    /// <summary>Whether target_modules names this module, by PEFT's rule (exact or dotted suffix; a string is a full-match regex).</summary>
    public bool Targets(string module)
    {
        if (TargetModulesPattern is { } p)
            return p == "all-linear" || Regex.IsMatch(module, $"^(?:{p})$");
        return TargetModules is null || TargetModules.Any(t => module == t || module.EndsWith("." + t, StringComparison.Ordinal));
    }

    private static T? PatternValue<T>(IReadOnlyDictionary<string, T> patterns, string module) where T : struct
    {
        // PEFT keys are regexes anchored at a dotted boundary at the start and at the end of the module name.
        foreach (var (key, value) in patterns)
        {
            if (module == key || Regex.IsMatch(module, $"^(?:.*\\.)?(?:{key})$"))
                return value;
        }
        return null;
    }

    private static string? Str(JsonObject o, string key, string path) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => string.IsNullOrEmpty(s) ? null : s,
        _ => throw new LlmMergeException($"{path}: '{key}' must be a string"),
    };

    private static bool Bool(JsonObject o, string key, string path) => o[key] switch
    {
        null => false,
        JsonValue v when v.TryGetValue(out bool b) => b,
        _ => throw new LlmMergeException($"{path}: '{key}' must be true or false"),
    };

    private static double Num(JsonObject o, string key, string path) =>
        o[key] is JsonValue v && v.TryGetValue(out double d) ? d : throw new LlmMergeException($"{path}: '{key}' must be a number");

    private static Dictionary<string, double> Map(JsonObject o, string key, string path)
    {
        var res = new Dictionary<string, double>(StringComparer.Ordinal);
        if (o[key] is null)
            return res;
        if (o[key] is not JsonObject m)
            throw new LlmMergeException($"{path}: '{key}' must be an object of module patterns to numbers");
        foreach (var (k, v) in m)
            res[k] = v is JsonValue jv && jv.TryGetValue(out double d) ? d : throw new LlmMergeException($"{path}: '{key}.{k}' must be a number");
        return res;
    }
}
