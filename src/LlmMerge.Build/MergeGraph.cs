using System.Globalization;
using LlmMerge.Contracts.Methods;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Build;

/// <summary>An <c>Expert</c> item: a local folder, a Hub repository at a revision, or a LoRA adapter on another expert.</summary>
internal sealed class ExpertNode
{
    public required string Name { get; init; }
    public required ITaskItem Item { get; init; }
    /// <summary>Full path of a local folder; null for a Hub expert.</summary>
    public string? LocalPath { get; init; }
    public string? Repo { get; init; }
    public string Revision { get; init; } = "main";
    /// <summary>The expert this one is a LoRA adapter for, or null.</summary>
    public string? AdapterBase { get; init; }
    public bool IsHub => LocalPath is null;
}

/// <summary>A <c>MergeStep</c> item: a method with inline parameters, or a mergekit YAML file.</summary>
internal sealed class StepNode
{
    public required string Name { get; init; }
    public required ITaskItem Item { get; init; }
    public required string Method { get; init; }
    public string? ConfigFile { get; init; }
    public YamlMappingNode? Config { get; init; }
    public List<string> Models { get; } = [];
    public string? BaseModel { get; init; }
    public SortedDictionary<string, YamlNode> Globals { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, SortedDictionary<string, YamlNode>> PerModel { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, string> Settings { get; } = new(StringComparer.Ordinal);
    /// <summary>Names of experts and steps this step reads.</summary>
    public SortedSet<string> Inputs { get; } = new(StringComparer.Ordinal);
    public int Level { get; set; }
}

/// <summary>An <c>Evaluation</c> item: models by name, scored on task files.</summary>
internal sealed class EvaluationNode
{
    public required string Name { get; init; }
    public required ITaskItem Item { get; init; }
    public List<string> Models { get; } = [];
    public List<string> TaskFiles { get; } = [];
}

/// <summary>
/// The merge graph read from a project's items: checked (methods, parameters, names, folders, cycles), every
/// problem logged as an error at its item's line, and the steps put in dependency order.
/// </summary>
internal sealed class MergeGraph
{
    // Metadata that configure a step rather than its method; everything else custom is a method parameter.
    private static readonly HashSet<string> StepSettings = new(StringComparer.OrdinalIgnoreCase)
    {
        "Method", "Models", "BaseModel", "Config", "DType", "OutDType", "TokenizerSource", "OutputPath", "Publish", "Description",
    };

    private readonly TaskLoggingHelper _log;
    private readonly ItemLocator _locator;
    private readonly string _projectDir;

    public Dictionary<string, ExpertNode> Experts { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, StepNode> Steps { get; } = new(StringComparer.Ordinal);
    public List<EvaluationNode> Evaluations { get; } = [];
    /// <summary>Steps in an order where each comes after every step it reads.</summary>
    public List<StepNode> Order { get; } = [];

    private MergeGraph(TaskLoggingHelper log, ItemLocator locator, string projectDir)
    {
        _log = log;
        _locator = locator;
        _projectDir = projectDir;
    }

    /// <summary>Reads and checks the graph; null when an error was logged.</summary>
    public static MergeGraph? Load(TaskLoggingHelper log, string projectFile, ITaskItem[] experts, ITaskItem[] steps, ITaskItem[] evaluations)
    {
        var graph = new MergeGraph(log, new ItemLocator(projectFile), Path.GetDirectoryName(Path.GetFullPath(projectFile))!);
        foreach (var e in experts) graph.AddExpert(e);
        foreach (var s in steps) graph.AddStep(s);
        // All checks run even after an error, so one build lists every problem; each looks only at nodes that exist.
        foreach (var s in graph.Steps.Values) graph.CheckInputs(s);
        graph.CheckAdapters();
        graph.Sort();
        foreach (var e in evaluations) graph.AddEvaluation(e);
        return log.HasLoggedErrors ? null : graph;
    }

    public ItemLocation Locate(ITaskItem item, string type, string? attribute = null) => _locator.Locate(item, type, attribute);

    private void Error(string code, ITaskItem item, string type, string? attribute, string message)
    {
        ItemLocation at = _locator.Locate(item, type, attribute);
        _log.LogError(null, code, null, at.File, at.Line, at.Column, 0, 0, message);
    }

    private string FullPath(ITaskItem item, string relative)
    {
        // Relative paths are read from the file that defined the item, as MSBuild does for Include.
        string dir = item.GetMetadata("DefiningProjectDirectory");
        return Path.GetFullPath(Path.Combine(string.IsNullOrEmpty(dir) ? _projectDir : dir, relative));
    }

    private bool Unique(ITaskItem item, string type)
    {
        if (Experts.ContainsKey(item.ItemSpec) || Steps.ContainsKey(item.ItemSpec))
        {
            Error(ErrorCodes.DuplicateName, item, type, null, $"{type} '{item.ItemSpec}': the name is already used by another Expert or MergeStep; names must be unique in a graph.");
            return false;
        }
        return true;
    }

    private void AddExpert(ITaskItem item)
    {
        if (!Unique(item, "Expert"))
            return;
        string path = item.GetMetadata("Path");
        string repo = item.GetMetadata("Repo");
        string revision = item.GetMetadata("Revision");
        string adapterBase = item.GetMetadata("Base");
        string? local = null;
        if (path.Length > 0)
        {
            local = FullPath(item, path);
            if (!Directory.Exists(local))
            {
                Error(ErrorCodes.MissingFolder, item, "Expert", "Path", $"Expert '{item.ItemSpec}': the folder '{local}' does not exist; fix Path, or give Repo (and Revision) for a Hub model.");
                return;
            }
        }
        else if (repo.Length == 0)
        {
            repo = item.ItemSpec;
        }
        if (local is null && repo.Split('/').Length != 2)
        {
            Error(ErrorCodes.MissingExpert, item, "Expert", null, $"Expert '{item.ItemSpec}': give Path (a local model folder) or Repo (a Hub id ORG/NAME, with Revision); '{repo}' is neither.");
            return;
        }
        Experts[item.ItemSpec] = new ExpertNode
        {
            Name = item.ItemSpec,
            Item = item,
            LocalPath = local,
            Repo = local is null ? repo : null,
            Revision = revision.Length > 0 ? revision : "main",
            AdapterBase = adapterBase.Length > 0 ? adapterBase : null,
        };
    }

    private void AddStep(ITaskItem item)
    {
        if (!Unique(item, "MergeStep"))
            return;
        string config = item.GetMetadata("Config");
        string method = item.GetMetadata("Method");
        if (config.Length > 0 == method.Length > 0)
        {
            Error(ErrorCodes.BadItem, item, "MergeStep", null, $"MergeStep '{item.ItemSpec}': give either Method (with its parameters as metadata) or Config (a mergekit YAML file), not {(config.Length > 0 ? "both" : "neither")}.");
            return;
        }
        if (config.Length > 0)
            AddConfigStep(item, FullPath(item, config));
        else
            AddInlineStep(item, method);
    }

    private static List<string> SplitList(string value) =>
        value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private void AddInlineStep(ITaskItem item, string method)
    {
        MethodDescriptor? known = MethodDescriptors.Find(method);
        if (known is null)
        {
            Error(ErrorCodes.UnknownMethod, item, "MergeStep", "Method", $"MergeStep '{item.ItemSpec}': unknown merge method '{method}'; known: {string.Join(", ", MethodDescriptors.Names)}.");
            return;
        }
        string baseModel = item.GetMetadata("BaseModel");
        var step = new StepNode { Name = item.ItemSpec, Item = item, Method = method, BaseModel = baseModel.Length > 0 ? baseModel : null };
        step.Models.AddRange(SplitList(item.GetMetadata("Models")));
        if (step.Models.Count == 0)
        {
            Error(ErrorCodes.BadItem, item, "MergeStep", null, $"MergeStep '{item.ItemSpec}': Models is empty; list the experts or steps to merge, separated by ';'.");
            return;
        }
        if (known.NeedsBase && step.BaseModel is null)
        {
            Error(ErrorCodes.BadItem, item, "MergeStep", null, $"MergeStep '{item.ItemSpec}': method {method} needs BaseModel (the model the task vectors are taken against).");
            return;
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
            if (StepSettings.Contains(name) || name.StartsWith("DefiningProject", StringComparison.Ordinal) || value.Length == 0)
                continue;
            AddParameter(step, known, name, value);
        }
        step.Inputs.UnionWith(step.Models);
        if (step.BaseModel is not null) step.Inputs.Add(step.BaseModel);
        Steps[step.Name] = step;
    }

    private void AddParameter(StepNode step, MethodDescriptor method, string metadata, string value)
    {
        string name = MetadataNames.ParameterName(metadata);
        ParameterDescriptor? parameter = method.Find(name);
        if (parameter is null)
        {
            string takes = string.Join(", ", method.Parameters.Select(p => p.Name));
            Error(ErrorCodes.BadParameter, step.Item, "MergeStep", metadata, $"MergeStep '{step.Name}': method {method.Name} has no parameter '{name}' (from metadata {metadata}); it takes: {(takes.Length > 0 ? takes : "none")}.");
            return;
        }
        if (value.Contains('=', StringComparison.Ordinal))
        {
            // "expert-a=0.7;expert-b=0.3": one value per model, as mergekit's per-model parameters.
            if (!parameter.PerModel)
            {
                Error(ErrorCodes.BadParameter, step.Item, "MergeStep", metadata, $"MergeStep '{step.Name}': {name} is one value for the whole merge; per-model values (name=value) apply only to {string.Join(", ", method.PerModel.Select(p => p.Name))}.");
                return;
            }
            foreach (string part in SplitList(value))
            {
                int eq = part.IndexOf('=', StringComparison.Ordinal);
                string model = part[..Math.Max(eq, 0)].Trim(), text = part[(eq + 1)..].Trim();
                if (eq <= 0 || !step.Models.Contains(model))
                {
                    Error(ErrorCodes.BadParameter, step.Item, "MergeStep", metadata, $"MergeStep '{step.Name}': {name} value '{part}' must be MODEL=VALUE for a model in Models ({string.Join(", ", step.Models)}).");
                    return;
                }
                YamlNode? node = ParseValue(step, metadata, parameter, text);
                if (node is null) return;
                if (!step.PerModel.TryGetValue(model, out var map))
                    step.PerModel[model] = map = new SortedDictionary<string, YamlNode>(StringComparer.Ordinal);
                map[name] = node;
            }
            return;
        }
        YamlNode? single = ParseValue(step, metadata, parameter, value);
        if (single is not null)
            step.Globals[name] = single;
    }

    /// <summary>A number, a boolean, or a list of numbers "[a, b, c]" (a gradient over layers); null after logging an error.</summary>
    private YamlNode? ParseValue(StepNode step, string metadata, ParameterDescriptor parameter, string text)
    {
        if (parameter.Kind == ParameterKind.Boolean)
        {
            if (bool.TryParse(text, out bool b))
                return new YamlScalarNode(b ? "true" : "false");
            Error(ErrorCodes.BadParameter, step.Item, "MergeStep", metadata, $"MergeStep '{step.Name}': {parameter.Name} must be true or false, not '{text}'.");
            return null;
        }
        bool list = text.StartsWith('[') && text.EndsWith(']');
        string[] parts = list ? text[1..^1].Split(',', StringSplitOptions.TrimEntries) : [text];
        var numbers = new List<double>();
        foreach (string p in parts)
        {
            if (!double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || !double.IsFinite(d))
            {
                Error(ErrorCodes.BadParameter, step.Item, "MergeStep", metadata, $"MergeStep '{step.Name}': {parameter.Name} must be a number{(list ? " in each list entry" : " or a list [a, b, ...]")}, not '{p}'.");
                return null;
            }
            if (!parameter.InRange(d))
            {
                Error(ErrorCodes.BadParameter, step.Item, "MergeStep", metadata, $"MergeStep '{step.Name}': {parameter.Name} = {p} is outside {parameter.RangeText}.");
                return null;
            }
            numbers.Add(d);
        }
        // Numbers are written back in one canonical form, so "0.50" and "0.5" give the same fingerprint.
        static YamlScalarNode Number(double d) => new(d.ToString("R", CultureInfo.InvariantCulture));
        if (!list)
            return Number(numbers[0]);
        var seq = new YamlSequenceNode(numbers.Select(Number)) { Style = YamlDotNet.Core.Events.SequenceStyle.Flow };
        return seq;
    }

    private void AddConfigStep(ITaskItem item, string file)
    {
        if (!File.Exists(file))
        {
            Error(ErrorCodes.BadConfig, item, "MergeStep", "Config", $"MergeStep '{item.ItemSpec}': the recipe '{file}' does not exist.");
            return;
        }
        YamlMappingNode? root;
        try
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(file))
                stream.Load(reader);
            root = stream.Documents.FirstOrDefault()?.RootNode as YamlMappingNode;
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            Error(ErrorCodes.BadConfig, item, "MergeStep", "Config", $"MergeStep '{item.ItemSpec}': {file}({e.Start.Line},{e.Start.Column}): {e.Message}");
            return;
        }
        if (root is null)
        {
            Error(ErrorCodes.BadConfig, item, "MergeStep", "Config", $"MergeStep '{item.ItemSpec}': {file} is not a mergekit recipe (a YAML mapping).");
            return;
        }
        string method = root.Children.TryGetValue(new YamlScalarNode("merge_method"), out var m) && m is YamlScalarNode s ? s.Value ?? "" : "";
        if (MethodDescriptors.Find(method) is null)
        {
            Error(ErrorCodes.UnknownMethod, item, "MergeStep", "Config", $"MergeStep '{item.ItemSpec}': {file}: unknown merge method '{method}'; known: {string.Join(", ", MethodDescriptors.Names)}.");
            return;
        }
        var step = new StepNode { Name = item.ItemSpec, Item = item, Method = method, ConfigFile = file, Config = root };
        Steps[step.Name] = step;
    }

    /// <summary>Every scalar of a recipe that names a model: <c>model</c>, <c>base_model</c>, <c>tokenizer_source</c>.</summary>
    internal static IEnumerable<(YamlMappingNode Parent, YamlScalarNode Key, YamlScalarNode Value)> ModelReferences(YamlNode node)
    {
        if (node is YamlMappingNode map)
        {
            foreach (var (k, v) in map.Children.ToList())
            {
                if (k is YamlScalarNode key && v is YamlScalarNode value && key.Value is "model" or "base_model" or "tokenizer_source")
                {
                    if (!(key.Value == "tokenizer_source" && value.Value is "base" or "union"))
                        yield return (map, key, value);
                }
                else
                {
                    foreach (var r in ModelReferences(v)) yield return r;
                }
            }
        }
        else if (node is YamlSequenceNode seq)
        {
            foreach (var child in seq.Children)
                foreach (var r in ModelReferences(child)) yield return r;
        }
    }

    private void CheckInputs(StepNode step)
    {
        if (step.Config is not null)
        {
            string dir = Path.GetDirectoryName(step.ConfigFile)!;
            foreach (var (_, _, value) in ModelReferences(step.Config))
            {
                string name = value.Value ?? "";
                if (Experts.ContainsKey(name) || Steps.ContainsKey(name))
                    step.Inputs.Add(name);
                else if (!Directory.Exists(Path.GetFullPath(Path.Combine(dir, name))))
                    Error(ErrorCodes.MissingExpert, step.Item, "MergeStep", "Config", $"MergeStep '{step.Name}': {step.ConfigFile} names model '{name}', which is neither an Expert nor a MergeStep of this project nor a folder; declare it, e.g. <Expert Include=\"{name}\" Revision=\"main\" />.");
            }
            return;
        }
        foreach (string input in step.Inputs)
        {
            if (input == step.Name)
                Error(ErrorCodes.Cycle, step.Item, "MergeStep", null, $"MergeStep '{step.Name}' reads its own output: a cycle in the merge graph ({step.Name} -> {step.Name}).");
            else if (!Experts.ContainsKey(input) && !Steps.ContainsKey(input))
                Error(ErrorCodes.MissingExpert, step.Item, "MergeStep", step.BaseModel == input && !step.Models.Contains(input) ? "BaseModel" : "Models",
                    $"MergeStep '{step.Name}': model '{input}' is neither an Expert nor a MergeStep of this project; known: {string.Join(", ", Experts.Keys.Concat(Steps.Keys).Order(StringComparer.Ordinal))}.");
        }
    }

    private void CheckAdapters()
    {
        foreach (var expert in Experts.Values.Where(e => e.AdapterBase is not null && !Experts.ContainsKey(e.AdapterBase!)).ToList())
        {
            Error(ErrorCodes.MissingExpert, expert.Item, "Expert", "Base", $"Expert '{expert.Name}': Base '{expert.AdapterBase}' (the model this LoRA adapter applies to) is not an Expert of this project.");
            Experts.Remove(expert.Name);
        }
    }

    private void Sort()
    {
        // Depth-first, in the order the steps were written, so the order is stable from build to build.
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        var path = new List<string>();
        bool Visit(StepNode step)
        {
            state.TryGetValue(step.Name, out int s);
            if (s == 2) return true;
            if (s == 1)
            {
                int from = path.IndexOf(step.Name);
                string cycle = string.Join(" -> ", path.Skip(from).Append(step.Name));
                Error(ErrorCodes.Cycle, step.Item, "MergeStep", null, $"MergeStep '{step.Name}': the merge graph has a cycle: {cycle}. A step cannot read its own output, directly or through other steps.");
                return false;
            }
            state[step.Name] = 1;
            path.Add(step.Name);
            int level = 0;
            foreach (string input in step.Inputs)
            {
                if (!Steps.TryGetValue(input, out StepNode? dep)) continue;
                if (!Visit(dep)) return false;
                level = Math.Max(level, dep.Level + 1);
            }
            path.RemoveAt(path.Count - 1);
            step.Level = level;
            state[step.Name] = 2;
            Order.Add(step);
            return true;
        }
        foreach (var step in Steps.Values)
            if (!Visit(step)) return;
    }

    private void AddEvaluation(ITaskItem item)
    {
        var eval = new EvaluationNode { Name = item.ItemSpec, Item = item };
        var models = SplitList(item.GetMetadata("Models"));
        eval.Models.AddRange(models.Count > 0 ? models : Experts.Keys.Concat(Order.Select(s => s.Name)));
        foreach (string m in eval.Models.Where(m => !Experts.ContainsKey(m) && !Steps.ContainsKey(m)))
            Error(ErrorCodes.MissingExpert, item, "Evaluation", "Models", $"Evaluation '{eval.Name}': model '{m}' is neither an Expert nor a MergeStep of this project.");
        foreach (string t in SplitList(item.GetMetadata("Tasks")))
        {
            string full = FullPath(item, t);
            if (File.Exists(full))
                eval.TaskFiles.Add(full);
            else
                Error(ErrorCodes.MissingTask, item, "Evaluation", "Tasks", $"Evaluation '{eval.Name}': task file '{full}' does not exist.");
        }
        if (eval.TaskFiles.Count == 0 && !_log.HasLoggedErrors)
            Error(ErrorCodes.MissingTask, item, "Evaluation", null, $"Evaluation '{eval.Name}': Tasks is empty; list task files (competition CSV or task YAML) separated by ';'.");
        Evaluations.Add(eval);
    }
}
