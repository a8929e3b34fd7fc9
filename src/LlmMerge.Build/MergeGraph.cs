using System.Globalization;
using LlmMerge.Build.Kinds;
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

/// <summary>A step of any kind: a <c>MergeStep</c> (a method with inline parameters, or a mergekit YAML file), a mixture, a router, a search.</summary>
internal sealed class StepNode
{
    public required string Name { get; init; }
    public required ITaskItem Item { get; init; }
    public required IStepKind Kind { get; init; }
    /// <summary>What the report's method column says: the merge method, or the kind's own word.</summary>
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
/// problem logged as an error at its item's line, and the steps put in dependency order. Steps of every kind
/// come in one list, each item carrying its kind (LlmMergeKind) from its build/kinds/ file.
/// </summary>
internal sealed class MergeGraph
{
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

    public bool HasErrors => _log.HasLoggedErrors;

    public ItemLocation Locate(ITaskItem item, string type, string? attribute = null) => _locator.Locate(item, type, attribute);

    /// <summary>Logs an error at the item's line (the attribute's, when given and written there).</summary>
    public void Error(string code, ITaskItem item, string type, string? attribute, string message)
    {
        ItemLocation at = _locator.Locate(item, type, attribute);
        _log.LogError(null, code, null, at.File, at.Line, at.Column, 0, 0, message);
    }

    /// <summary>A path written on an item, made absolute against the file that defined the item, as MSBuild does for Include.</summary>
    public string FullPath(ITaskItem item, string relative)
    {
        string dir = item.GetMetadata("LlmMergeDefinedInDir") is { Length: > 0 } kindDir ? kindDir : item.GetMetadata("DefiningProjectDirectory");
        return Path.GetFullPath(Path.Combine(string.IsNullOrEmpty(dir) ? _projectDir : dir, relative));
    }

    public bool IsModel(string name) => Experts.ContainsKey(name) || Steps.ContainsKey(name);

    public IEnumerable<string> ModelNames => Experts.Keys.Concat(Steps.Keys).Order(StringComparer.Ordinal);

    private bool Unique(ITaskItem item, string type)
    {
        if (IsModel(item.ItemSpec))
        {
            Error(ErrorCodes.DuplicateName, item, type, null, $"{type} '{item.ItemSpec}': the name is already used by another Expert or step; names must be unique in a graph.");
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
        string type = item.GetMetadata("LlmMergeKind");
        IStepKind? kind = StepKinds.Find(type.Length > 0 ? type : "MergeStep");
        if (kind is null)
        {
            _log.LogError($"step '{item.ItemSpec}': unknown step kind '{type}'; known: {StepKinds.ItemTypes}.");
            return;
        }
        if (!Unique(item, kind.ItemType))
            return;
        if (kind.Read(this, item) is { } step)
            Steps[step.Name] = step;
    }

    public static List<string> SplitList(string value) =>
        value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    /// <summary>Reads a Config= YAML file (a mapping); null after logging an error at the item's Config attribute.</summary>
    public YamlMappingNode? LoadConfig(ITaskItem item, string type, string file, string what)
    {
        if (!File.Exists(file))
        {
            Error(ErrorCodes.BadConfig, item, type, "Config", $"{type} '{item.ItemSpec}': the recipe '{file}' does not exist.");
            return null;
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
            Error(ErrorCodes.BadConfig, item, type, "Config", $"{type} '{item.ItemSpec}': {file}({e.Start.Line},{e.Start.Column}): {e.Message}");
            return null;
        }
        if (root is null)
            Error(ErrorCodes.BadConfig, item, type, "Config", $"{type} '{item.ItemSpec}': {file} is not {what} (a YAML mapping).");
        return root;
    }

    /// <summary>
    /// Every scalar of a recipe that names a model: values of <paramref name="keys"/> (mergekit's <c>model</c>,
    /// <c>base_model</c>, <c>tokenizer_source</c>, ...), and the scalars of a list under one of them.
    /// </summary>
    internal static IEnumerable<(YamlNode Parent, YamlNode Key, YamlScalarNode Value)> ModelReferences(YamlNode node, IReadOnlySet<string> keys)
    {
        if (node is YamlMappingNode map)
        {
            foreach (var (k, v) in map.Children.ToList())
            {
                if (k is YamlScalarNode key && key.Value is { } name && keys.Contains(name))
                {
                    if (v is YamlScalarNode value)
                    {
                        if (!(name == "tokenizer_source" && value.Value is "base" or "union"))
                            yield return (map, key, value);
                        continue;
                    }
                    if (v is YamlSequenceNode list && list.Children.All(c => c is YamlScalarNode))
                    {
                        for (int i = 0; i < list.Children.Count; i++)
                            yield return (list, new YamlScalarNode(i.ToString(CultureInfo.InvariantCulture)), (YamlScalarNode)list.Children[i]);
                        continue;
                    }
                }
                foreach (var r in ModelReferences(v, keys)) yield return r;
            }
        }
        else if (node is YamlSequenceNode seq)
        {
            foreach (var child in seq.Children)
                foreach (var r in ModelReferences(child, keys)) yield return r;
        }
    }

    /// <summary>Replaces a reference found by <see cref="ModelReferences"/> with <paramref name="value"/>.</summary>
    internal static void Replace(YamlNode parent, YamlNode key, string value)
    {
        if (parent is YamlMappingNode map)
            map.Children[key] = new YamlScalarNode(value);
        else if (parent is YamlSequenceNode list)
            list.Children[int.Parse(((YamlScalarNode)key).Value!, CultureInfo.InvariantCulture)] = new YamlScalarNode(value);
    }

    private void CheckInputs(StepNode step)
    {
        string type = step.Kind.ItemType;
        if (step.Config is not null)
        {
            string dir = Path.GetDirectoryName(step.ConfigFile)!;
            foreach (var (_, _, value) in ModelReferences(step.Config, step.Kind.ModelKeys))
            {
                string name = value.Value ?? "";
                if (name == step.Name)
                    Error(ErrorCodes.Cycle, step.Item, type, "Config", $"{type} '{step.Name}' reads its own output: a cycle in the merge graph ({step.Name} -> {step.Name}).");
                else if (IsModel(name))
                    step.Inputs.Add(name);
                else if (!Directory.Exists(Path.GetFullPath(Path.Combine(dir, name))))
                    Error(ErrorCodes.MissingExpert, step.Item, type, "Config", $"{type} '{step.Name}': {step.ConfigFile} names model '{name}', which is neither an Expert nor a MergeStep (or other step) of this project nor a folder; declare it, e.g. <Expert Include=\"{name}\" Revision=\"main\" />.");
            }
            return;
        }
        foreach (string input in step.Inputs)
        {
            if (input == step.Name)
                Error(ErrorCodes.Cycle, step.Item, type, null, $"{type} '{step.Name}' reads its own output: a cycle in the merge graph ({step.Name} -> {step.Name}).");
            else if (!IsModel(input))
                Error(ErrorCodes.MissingExpert, step.Item, type, step.BaseModel == input && !step.Models.Contains(input) ? "BaseModel" : "Models",
                    $"{type} '{step.Name}': model '{input}' is neither an Expert nor a MergeStep (or other step) of this project; known: {string.Join(", ", ModelNames)}.");
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
                Error(ErrorCodes.Cycle, step.Item, step.Kind.ItemType, null, $"{step.Kind.ItemType} '{step.Name}': the merge graph has a cycle: {cycle}. A step cannot read its own output, directly or through other steps.");
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
            Error(ErrorCodes.MissingExpert, item, "Evaluation", "Models", $"Evaluation '{eval.Name}': model '{m}' is neither an Expert nor a MergeStep (or other step) of this project.");
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
