using System.Globalization;
using LlmMerge.Contracts.Methods;
using Microsoft.Build.Framework;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Build.Kinds;

/// <summary>
/// <c>MergeStep</c>: a mergekit merge, written as Method= with mergekit's parameters as metadata, or Config= a mergekit
/// YAML whose <c>model:</c> entries may name experts and steps; run by <c>llmmerge merge</c>.
/// </summary>
internal sealed class MergeStepKind : IStepKind
{
    // Metadata that configure a step rather than its method; everything else custom is a method parameter.
    private static readonly HashSet<string> StepSettings = new(StringComparer.OrdinalIgnoreCase)
    {
        "Method", "Models", "BaseModel", "Config", "DType", "OutDType", "TokenizerSource", "OutputPath", "Publish", "Description",
    };

    public string ItemType => "MergeStep";

    public string Verb => "merge";

    public IReadOnlySet<string> ModelKeys { get; } = new HashSet<string>(StringComparer.Ordinal) { "model", "base_model", "tokenizer_source" };

    public StepNode? Read(MergeGraph graph, ITaskItem item)
    {
        string config = item.GetMetadata("Config");
        string method = item.GetMetadata("Method");
        if (config.Length > 0 == method.Length > 0)
        {
            graph.Error(ErrorCodes.BadItem, item, ItemType, null, $"MergeStep '{item.ItemSpec}': give either Method (with its parameters as metadata) or Config (a mergekit YAML file), not {(config.Length > 0 ? "both" : "neither")}.");
            return null;
        }
        return config.Length > 0 ? ReadConfig(graph, item, graph.FullPath(item, config)) : ReadInline(graph, item, method);
    }

    private StepNode? ReadInline(MergeGraph graph, ITaskItem item, string method)
    {
        MethodDescriptor? known = MethodDescriptors.Find(method);
        if (known is null)
        {
            graph.Error(ErrorCodes.UnknownMethod, item, ItemType, "Method", $"MergeStep '{item.ItemSpec}': unknown merge method '{method}'; known: {string.Join(", ", MethodDescriptors.Names)}.");
            return null;
        }
        string baseModel = item.GetMetadata("BaseModel");
        var step = new StepNode { Name = item.ItemSpec, Item = item, Kind = this, Method = method, BaseModel = baseModel.Length > 0 ? baseModel : null };
        step.Models.AddRange(MergeGraph.SplitList(item.GetMetadata("Models")));
        if (step.Models.Count == 0)
        {
            graph.Error(ErrorCodes.BadItem, item, ItemType, null, $"MergeStep '{item.ItemSpec}': Models is empty; list the experts or steps to merge, separated by ';'.");
            return null;
        }
        if (known.NeedsBase && step.BaseModel is null)
        {
            graph.Error(ErrorCodes.BadItem, item, ItemType, null, $"MergeStep '{item.ItemSpec}': method {method} needs BaseModel (the model the task vectors are taken against).");
            return null;
        }
        foreach (string key in new[] { "DType", "OutDType", "TokenizerSource" })
        {
            string v = item.GetMetadata(key);
            if (v.Length > 0) step.Settings[key] = v;
        }
        foreach (System.Collections.DictionaryEntry entry in item.CloneCustomMetadata())
        {
            string name = (string)entry.Key;
            string value = ((string?)entry.Value ?? "").Trim();
            if (StepSettings.Contains(name) || name.StartsWith("DefiningProject", StringComparison.Ordinal) || name.StartsWith("LlmMerge", StringComparison.Ordinal) || value.Length == 0)
                continue;
            AddParameter(graph, step, known, name, value);
        }
        step.Inputs.UnionWith(step.Models);
        if (step.BaseModel is not null) step.Inputs.Add(step.BaseModel);
        return step;
    }

    private void AddParameter(MergeGraph graph, StepNode step, MethodDescriptor method, string metadata, string value)
    {
        string name = MetadataNames.ParameterName(metadata);
        ParameterDescriptor? parameter = method.Find(name);
        if (parameter is null)
        {
            string takes = string.Join(", ", method.Parameters.Select(p => p.Name));
            graph.Error(ErrorCodes.BadParameter, step.Item, ItemType, metadata, $"MergeStep '{step.Name}': method {method.Name} has no parameter '{name}' (from metadata {metadata}); it takes: {(takes.Length > 0 ? takes : "none")}.");
            return;
        }
        if (value.Contains('=', StringComparison.Ordinal))
        {
            // "expert-a=0.7;expert-b=0.3": one value per model, as mergekit's per-model parameters.
            if (!parameter.PerModel)
            {
                graph.Error(ErrorCodes.BadParameter, step.Item, ItemType, metadata, $"MergeStep '{step.Name}': {name} is one value for the whole merge; per-model values (name=value) apply only to {string.Join(", ", method.PerModel.Select(p => p.Name))}.");
                return;
            }
            foreach (string part in MergeGraph.SplitList(value))
            {
                int eq = part.IndexOf('=', StringComparison.Ordinal);
                string model = part[..Math.Max(eq, 0)].Trim(), text = part[(eq + 1)..].Trim();
                if (eq <= 0 || !step.Models.Contains(model))
                {
                    graph.Error(ErrorCodes.BadParameter, step.Item, ItemType, metadata, $"MergeStep '{step.Name}': {name} value '{part}' must be MODEL=VALUE for a model in Models ({string.Join(", ", step.Models)}).");
                    return;
                }
                YamlNode? node = ParseValue(graph, step, metadata, parameter, text);
                if (node is null) return;
                if (!step.PerModel.TryGetValue(model, out var map))
                    step.PerModel[model] = map = new SortedDictionary<string, YamlNode>(StringComparer.Ordinal);
                map[name] = node;
            }
            return;
        }
        YamlNode? single = ParseValue(graph, step, metadata, parameter, value);
        if (single is not null)
            step.Globals[name] = single;
    }

    /// <summary>A number, a boolean, or a list of numbers "[a, b, c]" (a gradient over layers); null after logging an error.</summary>
    private YamlNode? ParseValue(MergeGraph graph, StepNode step, string metadata, ParameterDescriptor parameter, string text)
    {
        if (parameter.Kind == ParameterKind.Boolean)
        {
            if (bool.TryParse(text, out bool b))
                return new YamlScalarNode(b ? "true" : "false");
            graph.Error(ErrorCodes.BadParameter, step.Item, ItemType, metadata, $"MergeStep '{step.Name}': {parameter.Name} must be true or false, not '{text}'.");
            return null;
        }
        bool list = text.StartsWith('[') && text.EndsWith(']');
        string[] parts = list ? text[1..^1].Split(',', StringSplitOptions.TrimEntries) : [text];
        var numbers = new List<double>();
        foreach (string p in parts)
        {
            if (!double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || !double.IsFinite(d))
            {
                graph.Error(ErrorCodes.BadParameter, step.Item, ItemType, metadata, $"MergeStep '{step.Name}': {parameter.Name} must be a number{(list ? " in each list entry" : " or a list [a, b, ...]")}, not '{p}'.");
                return null;
            }
            if (!parameter.InRange(d))
            {
                graph.Error(ErrorCodes.BadParameter, step.Item, ItemType, metadata, $"MergeStep '{step.Name}': {parameter.Name} = {p} is outside {parameter.RangeText}.");
                return null;
            }
            numbers.Add(d);
        }
        // Numbers are written back in one canonical form, so "0.50" and "0.5" give the same fingerprint.
        static YamlScalarNode Number(double d) => new(d.ToString("R", CultureInfo.InvariantCulture));
        if (!list)
            return Number(numbers[0]);
        return new YamlSequenceNode(numbers.Select(Number)) { Style = YamlDotNet.Core.Events.SequenceStyle.Flow };
    }

    private StepNode? ReadConfig(MergeGraph graph, ITaskItem item, string file)
    {
        YamlMappingNode? root = graph.LoadConfig(item, ItemType, file, "a mergekit recipe");
        if (root is null)
            return null;
        string method = root.Children.TryGetValue(new YamlScalarNode("merge_method"), out var m) && m is YamlScalarNode s ? s.Value ?? "" : "";
        if (MethodDescriptors.Find(method) is null)
        {
            graph.Error(ErrorCodes.UnknownMethod, item, ItemType, "Config", $"MergeStep '{item.ItemSpec}': {file}: unknown merge method '{method}'; known: {string.Join(", ", MethodDescriptors.Names)}.");
            return null;
        }
        return new StepNode { Name = item.ItemSpec, Item = item, Kind = this, Method = method, ConfigFile = file, Config = root };
    }

    public YamlMappingNode Recipe(StepNode step, Func<string, string> reference, Func<string, string> folder)
    {
        if (step.Config is not null)
            return RecipeYaml.WithModels(step, reference, folder);
        var root = new YamlMappingNode { { "merge_method", step.Method } };
        if (step.BaseModel is not null)
            root.Add("base_model", reference(step.BaseModel));
        if (step.Settings.TryGetValue("DType", out string? dtype)) root.Add("dtype", dtype);
        if (step.Settings.TryGetValue("OutDType", out string? outDtype)) root.Add("out_dtype", outDtype);
        if (step.Settings.TryGetValue("TokenizerSource", out string? tok))
            root.Add("tokenizer_source", tok is "base" or "union" || !step.Inputs.Contains(tok) ? tok : reference(tok));
        if (step.Globals.Count > 0)
        {
            var p = new YamlMappingNode();
            foreach (var (k, v) in step.Globals) p.Add(k, RecipeYaml.Clone(v));
            root.Add("parameters", p);
        }
        var models = new YamlSequenceNode();
        var list = step.Models.ToList();
        // mergekit's slerp lists both endpoints under models, the base among them.
        if (step.Method == "slerp" && step.BaseModel is not null && !list.Contains(step.BaseModel))
            list.Insert(0, step.BaseModel);
        foreach (string m in list)
        {
            var entry = new YamlMappingNode { { "model", reference(m) } };
            if (step.PerModel.TryGetValue(m, out var parameters))
            {
                var p = new YamlMappingNode();
                foreach (var (k, v) in parameters) p.Add(k, RecipeYaml.Clone(v));
                entry.Add("parameters", p);
            }
            models.Add(entry);
        }
        root.Add("models", models);
        return root;
    }

    public IReadOnlyList<string> Arguments(string recipeFile, string outputDir, IReadOnlyList<string> extra) =>
        [Verb, recipeFile, outputDir, .. extra];
}
