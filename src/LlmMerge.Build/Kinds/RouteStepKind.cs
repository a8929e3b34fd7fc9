using System.Globalization;
using Microsoft.Build.Framework;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Build.Kinds;

/// <summary>
/// <c>RouteStep</c>: a routed system over experts and steps (query, task or Arrow routing), run by <c>llmmerge route</c>.
/// Written as metadata (<c>BaseModel</c>, <c>Models</c>, <c>Routing</c>, <c>GateMode</c>, <c>Layer</c>,
/// <c>PromptTasks</c>="EXPERT=FILE;...", <c>PromptLimit</c>, <c>Validation</c>="TASK=FILE;...", <c>TopK</c>,
/// <c>Temperature</c>, <c>DType</c>) or as <c>Config=</c> a router YAML whose base_model and source_model entries may
/// name experts and steps. Task files are fingerprinted by their folder's content (a task YAML reads its data beside it),
/// so editing a validation split routes again. Its model is the router folder, marked by router.json.
/// </summary>
internal sealed class RouteStepKind : IStepKind
{
    private static readonly string[] Metadata =
        ["BaseModel", "Models", "Routing", "GateMode", "Layer", "PromptTasks", "PromptLimit", "Validation", "TopK", "Temperature", "DType", "Config", "OutputPath", "Publish", "Description"];

    public string ItemType => "RouteStep";

    public string Verb => "route";

    public IReadOnlySet<string> ModelKeys { get; } = new HashSet<string>(StringComparer.Ordinal) { "base_model", "source_model" };

    public string ModelMarker => "router.json";

    public StepNode? Read(MergeGraph graph, ITaskItem item)
    {
        foreach (System.Collections.DictionaryEntry entry in item.CloneCustomMetadata())
        {
            string name = (string)entry.Key;
            if (Metadata.Contains(name, StringComparer.OrdinalIgnoreCase) || name.StartsWith("DefiningProject", StringComparison.Ordinal) || name.StartsWith("LlmMerge", StringComparison.Ordinal))
                continue;
            graph.Error(ErrorCodes.BadParameter, item, ItemType, name, $"RouteStep '{item.ItemSpec}': unknown metadata '{name}'; a RouteStep takes {string.Join(", ", Metadata)}.");
            return null;
        }
        string config = item.GetMetadata("Config");
        if (config.Length > 0)
        {
            if (Metadata.Where(m => m is not ("Config" or "OutputPath" or "Publish" or "Description")).FirstOrDefault(m => item.GetMetadata(m).Length > 0) is { } both)
            {
                graph.Error(ErrorCodes.BadItem, item, ItemType, both, $"RouteStep '{item.ItemSpec}': give either Config (a router YAML) or metadata such as {both}, not both.");
                return null;
            }
            string file = graph.FullPath(item, config);
            var root = graph.LoadConfig(item, ItemType, file, "a router config");
            if (root is null)
                return null;
            foreach (var (_, _, path) in TaskFiles(root))
            {
                string full = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, path.Value ?? ""));
                if (!File.Exists(full))
                {
                    graph.Error(ErrorCodes.MissingTask, item, ItemType, "Config", $"RouteStep '{item.ItemSpec}': {file} names task file '{path.Value}', which does not exist ({full}).");
                    return null;
                }
            }
            return new StepNode { Name = item.ItemSpec, Item = item, Kind = this, Method = "route (" + RoutingOf(root) + ")", ConfigFile = file, Config = root };
        }

        string baseModel = item.GetMetadata("BaseModel");
        string routing = item.GetMetadata("GateMode") == "arrow" ? "arrow" : item.GetMetadata("Routing") is { Length: > 0 } r ? r : "query";
        var step = new StepNode { Name = item.ItemSpec, Item = item, Kind = this, Method = $"route ({routing})", BaseModel = baseModel.Length > 0 ? baseModel : null };
        step.Models.AddRange(MergeGraph.SplitList(item.GetMetadata("Models")));
        if (step.BaseModel is null || step.Models.Count == 0)
        {
            graph.Error(ErrorCodes.BadItem, item, ItemType, null, $"RouteStep '{item.ItemSpec}': give BaseModel (whose hidden states and tokenizer the router uses) and Models (the experts, separated by ';'), or Config (a router YAML).");
            return null;
        }
        foreach (string key in new[] { "Routing", "GateMode", "Layer", "PromptLimit", "TopK", "Temperature", "DType" })
        {
            string v = item.GetMetadata(key).Trim();
            if (v.Length == 0) continue;
            bool number = key is "Layer" or "PromptLimit" or "TopK" ? int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                : key is not "Temperature" || double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
            if (!number)
            {
                graph.Error(ErrorCodes.BadParameter, item, ItemType, key, $"RouteStep '{item.ItemSpec}': {key} must be a number, not '{v}'.");
                return null;
            }
            step.Settings[key] = v;
        }
        // EXPERT=FILE pairs (PromptTasks) and TASK=FILE pairs (Validation), files made absolute against the defining file.
        foreach (string key in new[] { "PromptTasks", "Validation" })
        {
            int n = 0;
            foreach (string part in MergeGraph.SplitList(item.GetMetadata(key)))
            {
                int eq = part.IndexOf('=', StringComparison.Ordinal);
                string name = part[..Math.Max(eq, 0)].Trim(), path = part[(eq + 1)..].Trim();
                if (eq <= 0 || path.Length == 0 || (key == "PromptTasks" && !step.Models.Contains(name)))
                {
                    graph.Error(ErrorCodes.BadParameter, item, ItemType, key, key == "PromptTasks"
                        ? $"RouteStep '{item.ItemSpec}': PromptTasks entry '{part}' must be EXPERT=TASK_FILE for an expert in Models ({string.Join(", ", step.Models)})."
                        : $"RouteStep '{item.ItemSpec}': Validation entry '{part}' must be TASK_NAME=VALIDATION_FILE.");
                    return null;
                }
                string full = graph.FullPath(item, path);
                if (!File.Exists(full))
                {
                    graph.Error(ErrorCodes.MissingTask, item, ItemType, key, $"RouteStep '{item.ItemSpec}': {key} names task file '{full}', which does not exist.");
                    return null;
                }
                step.Settings[$"{key}.{n++}"] = name + "=" + full;
            }
        }
        step.Inputs.UnionWith(step.Models);
        step.Inputs.Add(step.BaseModel);
        return step;
    }

    private static string RoutingOf(YamlMappingNode root) =>
        root.Children.TryGetValue(new YamlScalarNode("gate_mode"), out var g) && g is YamlScalarNode { Value: "arrow" } ? "arrow"
        : root.Children.TryGetValue(new YamlScalarNode("routing"), out var r) && r is YamlScalarNode { Value: { Length: > 0 } v } ? v
        : "query";

    /// <summary>The task file scalars of a router YAML: prompt_tasks entries (plain or <c>file:</c>) and validation values.</summary>
    private static IEnumerable<(YamlNode Parent, YamlNode Key, YamlScalarNode Value)> TaskFiles(YamlMappingNode root)
    {
        if (root.Children.TryGetValue(new YamlScalarNode("experts"), out var experts) && experts is YamlSequenceNode list)
        {
            foreach (var expert in list.Children.OfType<YamlMappingNode>())
            {
                if (!expert.Children.TryGetValue(new YamlScalarNode("prompt_tasks"), out var tasks) || tasks is not YamlSequenceNode seq)
                    continue;
                for (int i = 0; i < seq.Children.Count; i++)
                {
                    if (seq.Children[i] is YamlScalarNode s)
                        yield return (seq, new YamlScalarNode(i.ToString(CultureInfo.InvariantCulture)), s);
                    else if (seq.Children[i] is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode("file"), out var f) && f is YamlScalarNode fs)
                        yield return (m, new YamlScalarNode("file"), fs);
                }
            }
        }
        if (root.Children.TryGetValue(new YamlScalarNode("validation"), out var validation) && validation is YamlMappingNode map)
        {
            foreach (var (k, v) in map.Children.ToList())
            {
                if (v is YamlScalarNode s)
                    yield return (map, k, s);
            }
        }
    }

    // A task file as the recipe names it: its folder by reference (a path to run, the folder's content hash to fingerprint), then its name.
    private static string Task(string full, Func<string, string> folder) => folder(Path.GetDirectoryName(full)!) + "/" + Path.GetFileName(full);

    public YamlMappingNode Recipe(StepNode step, Func<string, string> reference, Func<string, string> folder)
    {
        if (step.Config is not null)
        {
            var copy = RecipeYaml.WithModels(step, reference, folder);
            string dir = Path.GetDirectoryName(step.ConfigFile)!;
            foreach (var (parent, key, value) in TaskFiles(copy).ToList())
                MergeGraph.Replace(parent, key, Task(Path.GetFullPath(Path.Combine(dir, value.Value ?? "")), folder));
            return copy;
        }

        var root = new YamlMappingNode { { "base_model", reference(step.BaseModel!) } };
        void Add(string setting, string key)
        {
            if (step.Settings.TryGetValue(setting, out string? v)) root.Add(key, v);
        }
        Add("GateMode", "gate_mode");
        Add("Routing", "routing");
        Add("Layer", "layer");
        Add("DType", "dtype");
        Add("TopK", "experts_per_token");
        Add("Temperature", "router_temperature");
        var pairs = (string prefix) => step.Settings.Where(s => s.Key.StartsWith(prefix + ".", StringComparison.Ordinal))
            .OrderBy(s => int.Parse(s.Key[(prefix.Length + 1)..], CultureInfo.InvariantCulture))
            .Select(s => (Name: s.Value[..s.Value.IndexOf('=', StringComparison.Ordinal)], File: s.Value[(s.Value.IndexOf('=', StringComparison.Ordinal) + 1)..])).ToList();
        var prompts = pairs("PromptTasks");
        var experts = new YamlSequenceNode();
        foreach (string model in step.Models)
        {
            var entry = new YamlMappingNode { { "name", model }, { "source_model", reference(model) } };
            var mine = prompts.Where(p => p.Name == model).ToList();
            if (mine.Count > 0)
            {
                var tasks = new YamlSequenceNode();
                foreach (var (_, file) in mine)
                {
                    var t = new YamlMappingNode { { "file", Task(file, folder) } };
                    if (step.Settings.TryGetValue("PromptLimit", out string? limit)) t.Add("limit", limit);
                    tasks.Add(t);
                }
                entry.Add("prompt_tasks", tasks);
            }
            experts.Add(entry);
        }
        root.Add("experts", experts);
        var validation = pairs("Validation");
        if (validation.Count > 0)
        {
            var map = new YamlMappingNode();
            foreach (var (task, file) in validation) map.Add(task, Task(file, folder));
            root.Add("validation", map);
        }
        return root;
    }

    public IReadOnlyList<string> Arguments(string recipeFile, string outputDir, IReadOnlyList<string> extra) =>
        [Verb, recipeFile, outputDir];
}
