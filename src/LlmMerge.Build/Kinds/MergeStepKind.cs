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
        "CalibrationTasks", "CalibrationRows", "CalibrationSeed", "CalibrationBatchSize",
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
        if (!ReadCalibration(graph, item, step, known))
            return null;
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

    /// <summary>
    /// CalibrationTasks (task files, or MODEL=FILE per model; ';' between entries), CalibrationRows, CalibrationSeed and
    /// CalibrationBatchSize become the recipe's <c>calibration:</c> block, read by the methods that calibrate.
    /// </summary>
    private bool ReadCalibration(MergeGraph graph, ITaskItem item, StepNode step, MethodDescriptor method)
    {
        var tasks = MergeGraph.SplitList(item.GetMetadata("CalibrationTasks"));
        if (tasks.Count == 0)
        {
            if (MethodDescriptors.Calibrated.Contains(method.Name))
            {
                graph.Error(ErrorCodes.BadItem, item, ItemType, null, $"MergeStep '{item.ItemSpec}': method {method.Name} computes statistics on calibration rows; give CalibrationTasks (task files, ';' between them, or MODEL=FILE per model).");
                return false;
            }
            return true;
        }
        foreach (string entry in tasks)
        {
            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            string model = eq > 0 ? entry[..eq].Trim() : "";
            string file = graph.FullPath(item, (eq > 0 ? entry[(eq + 1)..] : entry).Trim());
            if (eq > 0 && !step.Models.Contains(model))
            {
                graph.Error(ErrorCodes.BadParameter, item, ItemType, "CalibrationTasks", $"MergeStep '{item.ItemSpec}': calibration entry '{entry}' names '{model}', which is not in Models ({string.Join(", ", step.Models)}).");
                return false;
            }
            if (!File.Exists(file))
            {
                graph.Error(ErrorCodes.MissingTask, item, ItemType, "CalibrationTasks", $"MergeStep '{item.ItemSpec}': calibration task file '{file}' does not exist.");
                return false;
            }
            step.Calibration.Add((model, file));
        }
        if (step.Calibration.Any(c => c.Model.Length > 0) && step.Calibration.Any(c => c.Model.Length == 0))
        {
            graph.Error(ErrorCodes.BadParameter, item, ItemType, "CalibrationTasks", $"MergeStep '{item.ItemSpec}': CalibrationTasks gives either one list for every model or MODEL=FILE entries, not both.");
            return false;
        }
        foreach (var (key, yaml) in new[] { ("CalibrationRows", "rows"), ("CalibrationSeed", "seed"), ("CalibrationBatchSize", "batch_size") })
        {
            string v = item.GetMetadata(key).Trim();
            if (v.Length == 0)
                continue;
            if (!long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) || n < (key == "CalibrationSeed" ? 0 : 1))
            {
                graph.Error(ErrorCodes.BadParameter, item, ItemType, key, $"MergeStep '{item.ItemSpec}': {key} must be a whole number{(key == "CalibrationSeed" ? " >= 0" : " >= 1")}, not '{v}'.");
                return false;
            }
            step.Settings["calibration." + yaml] = n.ToString(CultureInfo.InvariantCulture);
        }
        return true;
    }

    /// <summary>The recipe's calibration block: task files as <paramref name="folder"/> names their folder (a path to run, a content hash to fingerprint).</summary>
    private static YamlMappingNode CalibrationBlock(StepNode step, Func<string, string> reference, Func<string, string> folder)
    {
        string Task(string file) => folder(Path.GetDirectoryName(file)!) + "/" + Path.GetFileName(file);
        YamlNode tasks;
        if (step.Calibration.All(c => c.Model.Length == 0))
        {
            tasks = new YamlSequenceNode(step.Calibration.Select(c => new YamlScalarNode(Task(c.File)))) { Style = YamlDotNet.Core.Events.SequenceStyle.Flow };
        }
        else
        {
            var byModel = new YamlMappingNode();
            foreach (var group in step.Calibration.GroupBy(c => c.Model).OrderBy(g => g.Key, StringComparer.Ordinal))
                byModel.Add(reference(group.Key), new YamlSequenceNode(group.Select(c => new YamlScalarNode(Task(c.File)))) { Style = YamlDotNet.Core.Events.SequenceStyle.Flow });
            tasks = byModel;
        }
        var block = new YamlMappingNode { { "tasks", tasks } };
        foreach (string key in new[] { "rows", "seed", "batch_size" })
        {
            if (step.Settings.TryGetValue("calibration." + key, out string? v))
                block.Add(key, v);
        }
        return block;
    }

    /// <summary>A number, a boolean, a list of numbers "[a, b, c]" (a gradient over layers), or for a list parameter "[name, name]"; null after logging an error.</summary>
    private YamlNode? ParseValue(MergeGraph graph, StepNode step, string metadata, ParameterDescriptor parameter, string text)
    {
        if (parameter.Kind == ParameterKind.Names)
        {
            string inner = text.StartsWith('[') && text.EndsWith(']') ? text[1..^1] : text;
            var names = inner.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            return new YamlSequenceNode(names.Select(n => new YamlScalarNode(n) { Style = YamlDotNet.Core.ScalarStyle.SingleQuoted })) { Style = YamlDotNet.Core.Events.SequenceStyle.Flow };
        }
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
            return WithCalibrationFiles(RecipeYaml.WithModels(step, reference, folder), step, reference, folder);
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
        if (step.Calibration.Count > 0)
            root.Add("calibration", CalibrationBlock(step, reference, folder));
        return root;
    }

    /// <summary>
    /// A Config= recipe's calibration task files, relative to the recipe, named as <paramref name="folder"/> names their
    /// folder; per-model keys that name graph models are replaced as model references are.
    /// </summary>
    private static YamlMappingNode WithCalibrationFiles(YamlMappingNode root, StepNode step, Func<string, string> reference, Func<string, string> folder)
    {
        string dir = Path.GetDirectoryName(step.ConfigFile)!;
        if (!root.Children.TryGetValue(new YamlScalarNode("calibration"), out var c) || c is not YamlMappingNode block
            || !block.Children.TryGetValue(new YamlScalarNode("tasks"), out var tasks))
            return root;
        YamlNode Files(YamlNode node) => node switch
        {
            YamlScalarNode f => new YamlScalarNode(Rename(f.Value ?? "")),
            YamlSequenceNode list => new YamlSequenceNode(list.Children.Select(Files)) { Style = list.Style },
            _ => node,
        };
        string Rename(string file)
        {
            string full = Path.GetFullPath(Path.Combine(dir, file));
            return folder(Path.GetDirectoryName(full)!) + "/" + Path.GetFileName(full);
        }
        block.Children[new YamlScalarNode("tasks")] = tasks is YamlMappingNode byModel
            ? new YamlMappingNode(byModel.Children.Select(kv => new KeyValuePair<YamlNode, YamlNode>(
                kv.Key is YamlScalarNode { Value: { } name } && step.Inputs.Contains(name) ? new YamlScalarNode(reference(name)) : kv.Key, Files(kv.Value))))
            : Files(tasks);
        return root;
    }

    public IReadOnlyList<string> Arguments(string recipeFile, string outputDir, IReadOnlyList<string> extra) =>
        [Verb, recipeFile, outputDir, .. extra];
}
