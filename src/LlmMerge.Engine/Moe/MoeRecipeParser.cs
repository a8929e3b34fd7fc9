using System.Globalization;
using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Engine.Moe;

/// <summary>
/// Reads mergekit-moe's YAML (its <c>MoEMergeConfig</c>). mergekit's pydantic models ignore unknown keys; here they are
/// errors that name the key and the line, so a typo (<c>postive_prompts</c>) never leaves an expert without prompts.
/// </summary>
public static class MoeRecipeParser
{
    private static readonly string[] TopKeys = ["base_model", "experts", "gate_mode", "dtype", "experts_per_token", "shared_experts", "architecture"];

    private static readonly string[] ExpertKeys = ["source_model", "positive_prompts", "negative_prompts", "noise_scale", "residual_scale"];

    public static MoeRecipe ParseFile(string path)
    {
        if (!File.Exists(path))
            throw new LlmMergeException($"{path}: recipe file not found");
        return Parse(File.ReadAllText(path), path);
    }

    public static MoeRecipe Parse(string text, string fileName = "<recipe>")
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new LlmMergeException($"{fileName}:{e.Start.Line}: not valid YAML: {e.Message}", e); }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new LlmMergeException($"{fileName}: a mergekit-moe recipe must be a YAML mapping with base_model and experts");

        CheckKeys(fileName, root, TopKeys, "the recipe");
        string baseModel = Scalar(fileName, root, "base_model") ?? throw Error(fileName, root, "the recipe needs 'base_model' (the model attention, norms, embeddings and head come from)");
        if (!root.Children.TryGetValue(new YamlScalarNode("experts"), out var expertsNode) || expertsNode is not YamlSequenceNode { Children.Count: > 0 } experts)
            throw Error(fileName, root, "the recipe needs 'experts', a list of entries with 'source_model'");
        var shared = root.Children.TryGetValue(new YamlScalarNode("shared_experts"), out var sharedNode) && sharedNode is not YamlScalarNode { Value: null or "" or "null" or "~" }
            ? ParseExperts(fileName, sharedNode, "shared_experts")
            : null;

        string gateMode = Scalar(fileName, root, "gate_mode") ?? "hidden";
        if (!MoeRecipe.GateModes.Contains(gateMode))
            throw Error(fileName, root.Children[new YamlScalarNode("gate_mode")], $"unknown gate_mode '{gateMode}'; use one of {string.Join(", ", MoeRecipe.GateModes)}");
        int perToken = 2;
        if (Scalar(fileName, root, "experts_per_token") is { } k)
        {
            perToken = int.TryParse(k, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n
                : throw Error(fileName, root.Children[new YamlScalarNode("experts_per_token")], $"experts_per_token must be a whole number, not '{k}'");
        }
        return new MoeRecipe
        {
            BaseModel = ModelReference.Parse(baseModel),
            Experts = ParseExperts(fileName, experts, "experts"),
            SharedExperts = shared,
            GateMode = gateMode,
            DType = Scalar(fileName, root, "dtype"),
            ExpertsPerToken = perToken,
            Architecture = Scalar(fileName, root, "architecture"),
            SourceText = text,
            FileName = fileName,
        };
    }

    private static List<MoeExpert> ParseExperts(string file, YamlNode node, string key)
    {
        if (node is not YamlSequenceNode seq)
            throw Error(file, node, $"'{key}' must be a list of entries with 'source_model'");
        var result = new List<MoeExpert>();
        foreach (var item in seq)
        {
            string where = $"{key}[{result.Count}]";
            if (item is not YamlMappingNode m)
                throw Error(file, item, $"{where} must be a mapping with 'source_model'");
            CheckKeys(file, m, ExpertKeys, where);
            string model = Scalar(file, m, "source_model") ?? throw Error(file, m, $"{where} needs 'source_model'");
            result.Add(new MoeExpert(
                result.Count,
                (int)m.Start.Line,
                ModelReference.Parse(model),
                Prompts(file, m, "positive_prompts", where),
                Prompts(file, m, "negative_prompts", where),
                Number(file, m, "noise_scale", where),
                Number(file, m, "residual_scale", where)));
        }
        return result;
    }

    private static IReadOnlyList<string>? Prompts(string file, YamlMappingNode m, string key, string where)
    {
        if (!m.Children.TryGetValue(new YamlScalarNode(key), out var v) || v is YamlScalarNode { Value: null or "" or "null" or "~", Style: ScalarStyle.Plain })
            return null;
        if (v is not YamlSequenceNode seq || seq.Children.Any(c => c is not YamlScalarNode))
            throw Error(file, v, $"{where}.{key} must be a list of strings");
        return seq.Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToList();
    }

    private static double? Number(string file, YamlMappingNode m, string key, string where)
    {
        if (Scalar(file, m, key) is not { } text)
            return null;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) ? d
            : throw Error(file, m.Children[new YamlScalarNode(key)], $"{where}.{key} must be a number, not '{text}'");
    }

    private static string? Scalar(string file, YamlMappingNode m, string key)
    {
        if (!m.Children.TryGetValue(new YamlScalarNode(key), out var v))
            return null;
        if (v is not YamlScalarNode s)
            throw Error(file, v, $"'{key}' must be a single value");
        return string.IsNullOrEmpty(s.Value) || (s.Style == ScalarStyle.Plain && s.Value is "null" or "~") ? null : s.Value;
    }

    private static void CheckKeys(string file, YamlMappingNode m, string[] allowed, string where)
    {
        foreach (var k in m.Children.Keys)
        {
            string key = ((YamlScalarNode)k).Value ?? "";
            if (!allowed.Contains(key))
                throw Error(file, k, $"unknown key '{key}' in {where}; known keys: {string.Join(", ", allowed)}");
        }
    }

    private static LlmMergeException Error(string file, YamlNode node, string what) => new($"{file}:{node.Start.Line}: {what}");
}
