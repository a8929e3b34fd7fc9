using System.Globalization;
using LlmMerge.Contracts.Moe;
using Microsoft.Build.Framework;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Build.Kinds;

/// <summary>
/// <c>MoeStep</c>: a mixture of experts from dense experts, run by <c>llmmerge moe</c>. Config= a mergekit-moe YAML whose
/// <c>base_model</c> and <c>source_model</c> may name experts and steps, or metadata: BaseModel, Experts (and
/// SharedExperts) by name, GateMode, ExpertsPerToken, DType, Architecture, and Prompts / NegativePrompts as
/// <c>EXPERT=FILE;...</c> with one prompt a line (their text goes into the recipe, so editing a file reruns the step), and
/// PromptTasks (<c>EXPERT=TASK_FILE;...</c>, as a RouteStep's) with PromptLimit: each task row's context is a positive
/// prompt (the recipe's <c>prompt_tasks</c>), the task file fingerprinted by its folder's content.
/// </summary>
internal sealed class MoeStepKind : IStepKind
{
    private static readonly HashSet<string> Known = new(StringComparer.OrdinalIgnoreCase)
    {
        "BaseModel", "Experts", "SharedExperts", "GateMode", "ExpertsPerToken", "DType", "Architecture", "Prompts", "NegativePrompts", "PromptTasks", "PromptLimit",
        "Config", "OutputPath", "Publish", "Description",
    };

    public string ItemType => "MoeStep";

    public string Verb => "moe";

    public IReadOnlySet<string> ModelKeys { get; } = new HashSet<string>(MoeRecipeVocabulary.ModelKeys, StringComparer.Ordinal);

    public StepNode? Read(MergeGraph graph, ITaskItem item)
    {
        string config = item.GetMetadata("Config");
        foreach (System.Collections.DictionaryEntry entry in item.CloneCustomMetadata())
        {
            string name = (string)entry.Key;
            if (!Known.Contains(name) && !name.StartsWith("DefiningProject", StringComparison.Ordinal) && !name.StartsWith("LlmMerge", StringComparison.Ordinal))
            {
                graph.Error(ErrorCodes.BadParameter, item, ItemType, name, $"MoeStep '{item.ItemSpec}': unknown metadata '{name}'; a MoeStep takes {string.Join(", ", Known.Order(StringComparer.Ordinal))}.");
                return null;
            }
        }
        if (config.Length > 0)
        {
            if (item.GetMetadata("Experts").Length > 0 || item.GetMetadata("BaseModel").Length > 0)
            {
                graph.Error(ErrorCodes.BadItem, item, ItemType, null, $"MoeStep '{item.ItemSpec}': give either Config (a mergekit-moe YAML file) or BaseModel with Experts, not both.");
                return null;
            }
            YamlMappingNode? root = graph.LoadConfig(item, ItemType, graph.FullPath(item, config), "a mergekit-moe recipe");
            if (root is null || !CheckWords(graph, item, root, "Config"))
                return null;
            foreach (var (_, _, path) in PromptTaskFiles(root))
            {
                string full = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(graph.FullPath(item, config))!, path.Value ?? ""));
                if (!File.Exists(full))
                {
                    graph.Error(ErrorCodes.MissingTask, item, ItemType, "Config", $"MoeStep '{item.ItemSpec}': {config} names task file '{path.Value}' in prompt_tasks, which does not exist ({full}).");
                    return null;
                }
            }
            return new StepNode { Name = item.ItemSpec, Item = item, Kind = this, Method = "moe", ConfigFile = graph.FullPath(item, config), Config = root };
        }
        return ReadInline(graph, item);
    }

    private StepNode? ReadInline(MergeGraph graph, ITaskItem item)
    {
        string baseModel = item.GetMetadata("BaseModel");
        var experts = MergeGraph.SplitList(item.GetMetadata("Experts"));
        if (baseModel.Length == 0 || experts.Count == 0)
        {
            graph.Error(ErrorCodes.BadItem, item, ItemType, null, $"MoeStep '{item.ItemSpec}': give BaseModel (attention, norms, embeddings come from it) and Experts (their MLPs become the experts, separated by ';'), or Config (a mergekit-moe YAML file).");
            return null;
        }
        var step = new StepNode { Name = item.ItemSpec, Item = item, Kind = this, Method = "moe", BaseModel = baseModel };
        step.Models.AddRange(experts);
        foreach (var (meta, key) in new[] { ("GateMode", "gate_mode"), ("ExpertsPerToken", "experts_per_token"), ("DType", "dtype"), ("Architecture", "architecture"), ("SharedExperts", "shared_experts") })
        {
            if (item.GetMetadata(meta) is { Length: > 0 } v)
                step.Settings[key] = v.Trim();
        }
        if (step.Settings.TryGetValue("experts_per_token", out string? k) && !(int.TryParse(k, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 1))
        {
            graph.Error(ErrorCodes.BadParameter, item, ItemType, "ExpertsPerToken", $"MoeStep '{item.ItemSpec}': ExpertsPerToken must be a whole number of at least 1, not '{k}'.");
            return null;
        }
        var probe = new YamlMappingNode();
        foreach (var (key, v) in step.Settings.Where(s => s.Key is "gate_mode" or "architecture"))
            probe.Add(key, v);
        if (!CheckWords(graph, item, probe, null))
            return null;
        var shared = step.Settings.TryGetValue("shared_experts", out string? s) ? MergeGraph.SplitList(s) : [];
        foreach (var (meta, key) in new[] { ("Prompts", "positive_prompts"), ("NegativePrompts", "negative_prompts") })
        {
            foreach (string part in MergeGraph.SplitList(item.GetMetadata(meta)))
            {
                int eq = part.IndexOf('=', StringComparison.Ordinal);
                string expert = eq > 0 ? part[..eq].Trim() : "";
                if (!experts.Contains(expert) && !shared.Contains(expert))
                {
                    graph.Error(ErrorCodes.BadParameter, item, ItemType, meta, $"MoeStep '{item.ItemSpec}': {meta} entry '{part}' must be EXPERT=FILE for an expert in Experts or SharedExperts ({string.Join(", ", experts.Concat(shared))}).");
                    return null;
                }
                string file = graph.FullPath(item, part[(eq + 1)..].Trim());
                if (!File.Exists(file))
                {
                    graph.Error(ErrorCodes.BadConfig, item, ItemType, meta, $"MoeStep '{item.ItemSpec}': the prompt file '{file}' (for {expert}) does not exist.");
                    return null;
                }
                var lines = File.ReadAllLines(file).Where(l => l.Trim().Length > 0).Select(l => new YamlScalarNode(l) { Style = YamlDotNet.Core.ScalarStyle.DoubleQuoted });
                if (!step.PerModel.TryGetValue(expert, out var map))
                    step.PerModel[expert] = map = new SortedDictionary<string, YamlNode>(StringComparer.Ordinal);
                map[key] = new YamlSequenceNode(lines);
            }
        }
        if (item.GetMetadata("PromptLimit") is { Length: > 0 } limit)
        {
            if (!(int.TryParse(limit, NumberStyles.Integer, CultureInfo.InvariantCulture, out int l) && l >= 1))
            {
                graph.Error(ErrorCodes.BadParameter, item, ItemType, "PromptLimit", $"MoeStep '{item.ItemSpec}': PromptLimit must be a whole number of at least 1, not '{limit}'.");
                return null;
            }
            step.Settings["PromptLimit"] = limit.Trim();
        }
        int t = 0;
        foreach (string part in MergeGraph.SplitList(item.GetMetadata("PromptTasks")))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            string expert = eq > 0 ? part[..eq].Trim() : "", path = part[(eq + 1)..].Trim();
            if ((!experts.Contains(expert) && !shared.Contains(expert)) || path.Length == 0)
            {
                graph.Error(ErrorCodes.BadParameter, item, ItemType, "PromptTasks", $"MoeStep '{item.ItemSpec}': PromptTasks entry '{part}' must be EXPERT=TASK_FILE for an expert in Experts or SharedExperts ({string.Join(", ", experts.Concat(shared))}).");
                return null;
            }
            string full = graph.FullPath(item, path);
            if (!File.Exists(full))
            {
                graph.Error(ErrorCodes.MissingTask, item, ItemType, "PromptTasks", $"MoeStep '{item.ItemSpec}': PromptTasks names task file '{full}' (for {expert}), which does not exist.");
                return null;
            }
            step.Settings[$"PromptTasks.{t++}"] = expert + "=" + full;
        }
        step.Inputs.Add(baseModel);
        step.Inputs.UnionWith(experts);
        step.Inputs.UnionWith(shared);
        return step;
    }

    // gate_mode and architecture, checked against the words the engine takes, at the item's line.
    private bool CheckWords(MergeGraph graph, ITaskItem item, YamlMappingNode root, string? attribute)
    {
        string? Value(string key) => root.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value : null;
        if (Value("gate_mode") is { } mode && !MoeRecipeVocabulary.GateModes.Contains(mode))
        {
            graph.Error(ErrorCodes.BadParameter, item, ItemType, attribute ?? "GateMode", $"MoeStep '{item.ItemSpec}': unknown gate_mode '{mode}'; use one of {string.Join(", ", MoeRecipeVocabulary.GateModes)}.");
            return false;
        }
        if (Value("architecture") is { } arch && !MoeRecipeVocabulary.Architectures.Any(a => a.StartsWith(arch, StringComparison.OrdinalIgnoreCase)))
        {
            graph.Error(ErrorCodes.BadParameter, item, ItemType, attribute ?? "Architecture", $"MoeStep '{item.ItemSpec}': unknown architecture '{arch}'; use {string.Join(" or ", MoeRecipeVocabulary.Architectures)}.");
            return false;
        }
        return true;
    }

    public YamlMappingNode Recipe(StepNode step, Func<string, string> reference, Func<string, string> folder)
    {
        if (step.Config is not null)
        {
            var copy = RecipeYaml.WithModels(step, reference, folder);
            string dir = Path.GetDirectoryName(step.ConfigFile)!;
            foreach (var (parent, key, value) in PromptTaskFiles(copy).ToList())
                MergeGraph.Replace(parent, key, Task(Path.GetFullPath(Path.Combine(dir, value.Value ?? "")), folder));
            return copy;
        }
        var promptTasks = step.Settings.Where(s => s.Key.StartsWith("PromptTasks.", StringComparison.Ordinal))
            .OrderBy(s => int.Parse(s.Key["PromptTasks.".Length..], CultureInfo.InvariantCulture))
            .Select(s => (Expert: s.Value[..s.Value.IndexOf('=', StringComparison.Ordinal)], File: s.Value[(s.Value.IndexOf('=', StringComparison.Ordinal) + 1)..])).ToList();
        var root = new YamlMappingNode { { "base_model", reference(step.BaseModel!) } };
        foreach (string key in new[] { "architecture", "gate_mode", "dtype", "experts_per_token" })
        {
            if (step.Settings.TryGetValue(key, out string? v))
                root.Add(key, v);
        }
        YamlSequenceNode Entries(IEnumerable<string> names)
        {
            var list = new YamlSequenceNode();
            foreach (string m in names)
            {
                var entry = new YamlMappingNode { { "source_model", reference(m) } };
                if (step.PerModel.TryGetValue(m, out var prompts))
                {
                    foreach (var (k, v) in prompts)
                        entry.Add(k, RecipeYaml.Clone(v));
                }
                var tasks = new YamlSequenceNode();
                foreach (var (_, file) in promptTasks.Where(p => p.Expert == m))
                {
                    var task = new YamlMappingNode { { "file", Task(file, folder) } };
                    if (step.Settings.TryGetValue("PromptLimit", out string? limit))
                        task.Add("limit", limit);
                    tasks.Add(task);
                }
                if (tasks.Children.Count > 0)
                    entry.Add("prompt_tasks", tasks);
                list.Add(entry);
            }
            return list;
        }
        root.Add("experts", Entries(step.Models));
        if (step.Settings.TryGetValue("shared_experts", out string? shared))
            root.Add("shared_experts", Entries(MergeGraph.SplitList(shared)));
        return root;
    }

    // A task file as the recipe names it: its folder by reference (a path to run, the folder's content hash to fingerprint), then its name.
    private static string Task(string full, Func<string, string> folder) => folder(Path.GetDirectoryName(full)!) + "/" + Path.GetFileName(full);

    /// <summary>The task file scalars of a recipe's prompt_tasks entries (plain or <c>file:</c>), experts and shared experts.</summary>
    private static IEnumerable<(YamlNode Parent, YamlNode Key, YamlScalarNode Value)> PromptTaskFiles(YamlMappingNode root)
    {
        foreach (string list in new[] { "experts", "shared_experts" })
        {
            if (!root.Children.TryGetValue(new YamlScalarNode(list), out var experts) || experts is not YamlSequenceNode seq)
                continue;
            foreach (var expert in seq.Children.OfType<YamlMappingNode>())
            {
                if (!expert.Children.TryGetValue(new YamlScalarNode("prompt_tasks"), out var tasks) || tasks is not YamlSequenceNode entries)
                    continue;
                for (int i = 0; i < entries.Children.Count; i++)
                {
                    if (entries.Children[i] is YamlScalarNode s)
                        yield return (entries, new YamlScalarNode(i.ToString(CultureInfo.InvariantCulture)), s);
                    else if (entries.Children[i] is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode("file"), out var f) && f is YamlScalarNode fs)
                        yield return (m, new YamlScalarNode("file"), fs);
                }
            }
        }
    }

    public IReadOnlyList<string> Arguments(string recipeFile, string outputDir, IReadOnlyList<string> extra) =>
        [Verb, recipeFile, outputDir, .. extra];
}
