using System.Globalization;
using LlmMerge.Contracts.Methods;
using Microsoft.Build.Framework;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Build.Kinds;

/// <summary>
/// <c>EvolveStep</c>: a mergekit-evolve search (Genome= its YAML, whose <c>models</c> and <c>base_model</c> may name
/// experts and steps), run by <c>llmmerge evolve</c> with the step's output folder as its storage path; its model is
/// the search's final_model. MaxFevals= (100), Seed= (0), Sigma0=, Popsize= go into the normalised genome's
/// <c>search</c> block, so they are part of the fingerprint; task names are resolved here (against the genome's folder
/// and TaskSearchPath=) to files, hashed by content. Rerunning with a larger MaxFevals replays the stored candidates
/// and scores only new ones.
/// </summary>
internal sealed class EvolveStepKind : IStepKind
{
    public string ItemType => "EvolveStep";

    public string Verb => "evolve";

    public IReadOnlySet<string> ModelKeys { get; } = new HashSet<string>(StringComparer.Ordinal) { "models", "base_model", "tokenizer_source" };

    public StepNode? Read(MergeGraph graph, ITaskItem item)
    {
        string genome = item.GetMetadata("Genome");
        if (genome.Length == 0)
        {
            graph.Error(ErrorCodes.BadItem, item, ItemType, null, $"EvolveStep '{item.ItemSpec}': give Genome, a mergekit-evolve YAML (genome and tasks).");
            return null;
        }
        foreach (string key in new[] { "MaxFevals", "Seed", "Popsize" })
        {
            string v = item.GetMetadata(key);
            if (v.Length > 0 && (!long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) || n < (key == "Seed" ? 0 : 1)))
            {
                graph.Error(ErrorCodes.BadParameter, item, ItemType, key, $"EvolveStep '{item.ItemSpec}': {key} must be a whole number{(key == "Seed" ? "" : " of at least 1")}, not '{v}'.");
                return null;
            }
        }
        string sigma = item.GetMetadata("Sigma0");
        if (sigma.Length > 0 && !(double.TryParse(sigma, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0))
        {
            graph.Error(ErrorCodes.BadParameter, item, ItemType, "Sigma0", $"EvolveStep '{item.ItemSpec}': Sigma0 must be a positive number, not '{sigma}'.");
            return null;
        }
        string file = graph.FullPath(item, genome);
        YamlMappingNode? root = graph.LoadConfig(item, ItemType, file, "a mergekit-evolve genome");
        if (root is null)
            return null;
        string method = root.Children.TryGetValue(new YamlScalarNode("genome"), out var g) && g is YamlMappingNode gm
            && gm.Children.TryGetValue(new YamlScalarNode("merge_method"), out var m) && m is YamlScalarNode ms ? ms.Value ?? "" : "";
        if (MethodDescriptors.Find(method) is null)
        {
            graph.Error(ErrorCodes.UnknownMethod, item, ItemType, "Genome", $"EvolveStep '{item.ItemSpec}': {file}: unknown genome.merge_method '{method}'; known: {string.Join(", ", MethodDescriptors.Names)}.");
            return null;
        }
        var step = new StepNode { Name = item.ItemSpec, Item = item, Kind = this, Method = method, ConfigFile = file, Config = root };
        foreach (string key in new[] { "MaxFevals", "Seed", "Sigma0", "Popsize", "TaskSearchPath" })
        {
            string v = item.GetMetadata(key);
            if (v.Length > 0) step.Settings[key] = key == "TaskSearchPath" ? string.Join(";", MergeGraph.SplitList(v).Select(p => graph.FullPath(item, p))) : v;
        }
        return step;
    }

    public YamlMappingNode Recipe(StepNode step, Func<string, string> reference, Func<string, string> folder)
    {
        var root = RecipeYaml.WithModels(step, reference, folder);
        string genomeDir = Path.GetDirectoryName(step.ConfigFile)!;
        var searchPaths = step.Settings.TryGetValue("TaskSearchPath", out string? sp) ? MergeGraph.SplitList(sp) : [];
        if (root.Children.TryGetValue(new YamlScalarNode("tasks"), out var tasks) && tasks is YamlSequenceNode list)
        {
            for (int i = 0; i < list.Children.Count; i++)
            {
                var node = list.Children[i];
                var nameNode = node as YamlScalarNode ?? (node is YamlMappingNode tm && tm.Children.TryGetValue(new YamlScalarNode("name"), out var n) ? n as YamlScalarNode : null);
                if (nameNode?.Value is not { Length: > 0 } name || TaskFile(name, genomeDir, searchPaths) is not { } path)
                    continue; // left for llmmerge evolve to report
                string dir = Path.GetDirectoryName(path)!;
                string hashed = folder(dir);
                // Running: the file's path; hashing: its folder's content (the task file and its data) and its name.
                string value = hashed == dir ? path : $"{hashed}/{Path.GetFileName(path)}";
                if (node is YamlScalarNode)
                    list.Children[i] = new YamlScalarNode(value);
                else
                    ((YamlMappingNode)node).Children[new YamlScalarNode("name")] = new YamlScalarNode(value);
            }
        }
        var search = new YamlMappingNode
        {
            { "max_fevals", step.Settings.GetValueOrDefault("MaxFevals", "100") },
            { "random_seed", step.Settings.GetValueOrDefault("Seed", "0") },
        };
        if (step.Settings.TryGetValue("Sigma0", out string? sigma)) search.Add("sigma0", sigma);
        if (step.Settings.TryGetValue("Popsize", out string? popsize)) search.Add("popsize", popsize);
        root.Children[new YamlScalarNode("search")] = search;
        return root;
    }

    /// <summary>A task name as llmmerge evolve resolves it: a file beside the genome, else a task YAML under the search paths whose task: is the name.</summary>
    private static string? TaskFile(string name, string genomeDir, IReadOnlyList<string> searchPaths)
    {
        string direct = Path.GetFullPath(Path.Combine(genomeDir, name));
        if (File.Exists(direct)) return direct;
        foreach (string root in searchPaths.Where(Directory.Exists))
        {
            foreach (string file in Directory.EnumerateFiles(root, "*.y*ml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                try
                {
                    var stream = new YamlStream();
                    using (var reader = File.OpenText(file)) stream.Load(reader);
                    if (stream.Documents.FirstOrDefault()?.RootNode is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode("task"), out var t)
                        && t is YamlScalarNode { Value: { } v } && v == name)
                        return Path.GetFullPath(file);
                }
                catch (YamlDotNet.Core.YamlException)
                {
                }
            }
        }
        return null;
    }

    public IReadOnlyList<string> Arguments(string recipeFile, string outputDir, IReadOnlyList<string> extra) =>
        [Verb, recipeFile, "--storage-path", outputDir];

    public string ModelDir(string outputDir) => Path.Combine(outputDir, "final_model");
}
