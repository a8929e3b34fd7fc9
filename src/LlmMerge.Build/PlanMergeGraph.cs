using System.Globalization;
using System.Text;
using LlmMerge.Contracts.Hub;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Build;

/// <summary>
/// Fingerprints every expert and step, writes each step's normalised mergekit recipe and its stamp (only when
/// the fingerprint changed), writes the lock file, and lists the steps and evaluation pairs for the targets that
/// run them. A step's stamp is its target's input and its marker the output, so MSBuild's own up-to-date check
/// skips a step whose fingerprint did not change.
/// </summary>
public sealed class PlanMergeGraph : Microsoft.Build.Utilities.Task
{
    [Required] public string ProjectFile { get; set; } = "";
    public ITaskItem[] Experts { get; set; } = [];
    public ITaskItem[] Steps { get; set; } = [];
    public ITaskItem[] Evaluations { get; set; } = [];
    /// <summary>Fetched Hub experts: the expert's name, with Snapshot (the folder <c>llmmerge fetch</c> printed).</summary>
    public ITaskItem[] Fetched { get; set; } = [];
    [Required] public string LockFile { get; set; } = "";
    public string HubCacheDir { get; set; } = "";
    [Required] public string StateDir { get; set; } = "";
    [Required] public string ArtifactsDir { get; set; } = "";
    [Required] public string EvalCacheDir { get; set; } = "";
    /// <summary>Part of every step's fingerprint; when empty, a hash of the CLI's own assemblies in <see cref="CliDir"/>.</summary>
    public string ToolVersion { get; set; } = "";
    public string CliDir { get; set; } = "";
    /// <summary>Extra arguments every merge runs with (e.g. --out-shard-size); part of each step's fingerprint.</summary>
    public string MergeArguments { get; set; } = "";

    [Output] public ITaskItem[] PlannedSteps { get; private set; } = [];
    [Output] public ITaskItem[] Models { get; private set; } = [];
    [Output] public ITaskItem[] EvaluationPairs { get; private set; } = [];

    private readonly Dictionary<string, (string Dir, string Fingerprint)> _resolved = new(StringComparer.Ordinal);

    public override bool Execute()
    {
        MergeGraph? graph = MergeGraph.Load(Log, ProjectFile, Experts, Steps, Evaluations);
        if (graph is null)
            return false;
        var hashes = new Fingerprints(Path.Combine(StateDir, "file-hashes.json"));
        string toolVersion = ToolVersion.Length > 0 ? ToolVersion : CliVersion(hashes);
        if (!ResolveExperts(graph, hashes))
            return false;

        var models = new List<ITaskItem>();
        foreach (ExpertNode e in graph.Experts.Values)
            models.Add(ModelItem(e.Name, "expert", e.Item, "", ""));

        var planned = new List<ITaskItem>();
        foreach (StepNode step in graph.Order)
        {
            string output = step.Item.GetMetadata("OutputPath") is { Length: > 0 } custom
                ? Path.GetFullPath(Path.Combine(Path.GetDirectoryName(ProjectFile)!, custom))
                : Path.Combine(ArtifactsDir, step.Name);
            output = Path.TrimEndingDirectorySeparator(output);
            YamlMappingNode runRecipe = Recipe(step, name => _resolved[name].Dir, hashes, fingerprints: false);
            YamlMappingNode hashRecipe = Recipe(step, name => _resolved[name].Fingerprint, hashes, fingerprints: true);
            string fingerprint = Fingerprints.Sha256($"step v1\ntool {toolVersion}\nargs {MergeArguments}\n{ToYaml(hashRecipe)}");
            string stepDir = Path.Combine(StateDir, "steps");
            string stamp = Path.Combine(stepDir, step.Name + ".stamp");
            string recipeFile = Path.Combine(stepDir, step.Name + ".yml");
            StampFile.WriteIfDifferent(recipeFile, $"# Normalised from {ProjectFile}, MergeStep '{step.Name}'; fingerprint {fingerprint}\n{ToYaml(runRecipe)}");
            bool changed = StampFile.WriteIfDifferent(stamp, fingerprint + "\n");
            Log.LogMessage(changed ? MessageImportance.Normal : MessageImportance.Low,
                $"MergeStep '{step.Name}': fingerprint {fingerprint[..12]}{(changed ? " (changed)" : " (unchanged)")}");
            _resolved[step.Name] = (output, fingerprint);

            ItemLocation at = graph.Locate(step.Item, "MergeStep");
            var item = new TaskItem(step.Name);
            item.SetMetadata("Method", step.Method);
            item.SetMetadata("Level", step.Level.ToString(CultureInfo.InvariantCulture));
            item.SetMetadata("Fingerprint", fingerprint);
            item.SetMetadata("StampFile", stamp);
            item.SetMetadata("RecipeFile", recipeFile);
            item.SetMetadata("MarkerFile", Path.Combine(stepDir, step.Name + ".done"));
            item.SetMetadata("StatsFile", Path.Combine(stepDir, step.Name + ".stats.json"));
            item.SetMetadata("OutputDir", output);
            item.SetMetadata("Inputs", string.Join(",", step.Inputs));
            item.SetMetadata("DefinedIn", at.File);
            item.SetMetadata("Line", at.Line.ToString(CultureInfo.InvariantCulture));
            planned.Add(item);
            models.Add(ModelItem(step.Name, "step", step.Item, step.Method, string.Join(",", step.Inputs)));
        }
        foreach (ITaskItem m in models)
        {
            m.SetMetadata("Dir", _resolved[m.ItemSpec].Dir);
            m.SetMetadata("Fingerprint", _resolved[m.ItemSpec].Fingerprint);
        }

        EvaluationPairs = Pairs(graph, hashes);
        hashes.Save();
        PlannedSteps = planned.ToArray();
        Models = models.ToArray();
        return !Log.HasLoggedErrors;
    }

    private static TaskItem ModelItem(string name, string kind, ITaskItem source, string method, string inputs)
    {
        var item = new TaskItem(name);
        item.SetMetadata("Kind", kind);
        item.SetMetadata("Method", method);
        item.SetMetadata("Inputs", inputs);
        item.SetMetadata("Publish", source.GetMetadata("Publish"));
        item.SetMetadata("Description", source.GetMetadata("Description"));
        return item;
    }

    private string CliVersion(Fingerprints hashes)
    {
        if (CliDir.Length == 0 || !Directory.Exists(CliDir))
            return "unknown";
        // The CLI and the engine assemblies beside it decide what a merge computes; third-party ones are pinned by version.
        var sb = new StringBuilder();
        foreach (string f in Directory.EnumerateFiles(CliDir, "*.dll")
                     .Where(f => Path.GetFileName(f).StartsWith("llmmerge", StringComparison.OrdinalIgnoreCase)
                                 || Path.GetFileName(f).StartsWith("LlmMerge.", StringComparison.Ordinal))
                     .Order(StringComparer.Ordinal))
            sb.Append(Path.GetFileName(f)).Append(' ').Append(hashes.File256(f)).Append('\n');
        return Fingerprints.Sha256(sb.ToString())[..16];
    }

    private bool ResolveExperts(MergeGraph graph, Fingerprints hashes)
    {
        var lockFile = Build.LockFile.Read(LockFile);
        var fetched = Fetched.ToDictionary(f => f.ItemSpec, f => f.GetMetadata("Snapshot"), StringComparer.Ordinal);
        string cache = HubCacheLocation.CacheDir(HubCacheDir);
        var fresh = new LockFile();
        // Adapters last: their fingerprint includes their base's.
        foreach (ExpertNode e in graph.Experts.Values.OrderBy(e => e.AdapterBase is null ? 0 : 1))
        {
            string dir, fingerprint;
            if (!e.IsHub)
            {
                dir = e.LocalPath!;
                fingerprint = hashes.Folder(dir);
            }
            else
            {
                string? commit;
                if (fetched.TryGetValue(e.Name, out string? snapshot) && snapshot.Length > 0)
                {
                    dir = Path.TrimEndingDirectorySeparator(snapshot);
                    commit = Path.GetFileName(dir);
                }
                else
                {
                    commit = lockFile.Commit(e.Name, e.Repo!, e.Revision);
                    if (commit is null)
                    {
                        ItemLocation at = graph.Locate(e.Item, "Expert");
                        Log.LogError(null, ErrorCodes.LockMissing, null, at.File, at.Line, at.Column, 0, 0,
                            $"Expert '{e.Name}': {e.Repo} at {e.Revision} was neither fetched nor locked; run the FetchExperts target.");
                        continue;
                    }
                    dir = HubCacheLocation.Snapshot(cache, e.Repo!, commit);
                }
                fresh.Experts[e.Name] = new LockFile.Entry(e.Repo!, e.Revision, commit);
                fingerprint = Fingerprints.Sha256($"hub v1\n{e.Repo}\n{commit}");
            }
            if (e.AdapterBase is not null && _resolved.TryGetValue(e.AdapterBase, out var b))
            {
                // mergekit's spelling of "this LoRA adapter applied to that base": BASE+ADAPTER.
                dir = b.Dir + "+" + dir;
                fingerprint = Fingerprints.Sha256($"lora v1\n{b.Fingerprint}\n{fingerprint}");
            }
            _resolved[e.Name] = (dir, fingerprint);
        }
        if (fresh.Experts.Count > 0 && fresh.Write(LockFile))
            Log.LogMessage(MessageImportance.High, $"LlmMerge: wrote {LockFile} ({fresh.Experts.Count} Hub experts).");
        return !Log.HasLoggedErrors;
    }

    /// <summary>The step as a mergekit recipe, with models named by <paramref name="reference"/> (paths to run, fingerprints to hash).</summary>
    private static YamlMappingNode Recipe(StepNode step, Func<string, string> reference, Fingerprints hashes, bool fingerprints)
    {
        if (step.Config is not null)
        {
            var copy = (YamlMappingNode)Clone(step.Config);
            string dir = Path.GetDirectoryName(step.ConfigFile)!;
            foreach (var (parent, key, value) in MergeGraph.ModelReferences(copy))
            {
                string name = value.Value ?? "";
                string replaced = step.Inputs.Contains(name) ? reference(name)
                    : fingerprints ? hashes.Folder(Path.GetFullPath(Path.Combine(dir, name)))
                    : Path.GetFullPath(Path.Combine(dir, name));
                parent.Children[key] = new YamlScalarNode(replaced);
            }
            return copy;
        }
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
            foreach (var (k, v) in step.Globals) p.Add(k, Clone(v));
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
                foreach (var (k, v) in parameters) p.Add(k, Clone(v));
                entry.Add("parameters", p);
            }
            models.Add(entry);
        }
        root.Add("models", models);
        return root;
    }

    private static YamlNode Clone(YamlNode node) => node switch
    {
        YamlScalarNode s => new YamlScalarNode(s.Value) { Style = s.Style },
        YamlSequenceNode q => new YamlSequenceNode(q.Children.Select(Clone)) { Style = q.Style },
        YamlMappingNode m => new YamlMappingNode(m.Children.Select(kv => new KeyValuePair<YamlNode, YamlNode>(Clone(kv.Key), Clone(kv.Value)))),
        _ => throw new InvalidOperationException($"unexpected YAML node {node.NodeType}"),
    };

    internal static string ToYaml(YamlNode root)
    {
        var stream = new YamlStream(new YamlDocument(root));
        using var writer = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        stream.Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    private ITaskItem[] Pairs(MergeGraph graph, Fingerprints hashes)
    {
        var pairs = new Dictionary<string, ITaskItem>(StringComparer.Ordinal);
        foreach (EvaluationNode eval in graph.Evaluations)
        {
            ItemLocation at = graph.Locate(eval.Item, "Evaluation");
            foreach (string model in eval.Models)
            foreach (string task in eval.TaskFiles)
            {
                string taskFp = hashes.File256(task);
                string key = Fingerprints.Sha256($"eval v1\n{_resolved[model].Fingerprint}\n{taskFp}")[..32];
                if (pairs.ContainsKey(key)) continue;
                var item = new TaskItem(key);
                item.SetMetadata("Model", model);
                item.SetMetadata("ModelDir", _resolved[model].Dir);
                item.SetMetadata("TaskFile", task);
                item.SetMetadata("TaskName", Path.GetFileNameWithoutExtension(task));
                item.SetMetadata("Evaluation", eval.Name);
                item.SetMetadata("ResultFile", Path.Combine(EvalCacheDir, key + ".json"));
                item.SetMetadata("SamplesFile", Path.Combine(EvalCacheDir, key + ".samples.jsonl"));
                string pairStamp = Path.Combine(StateDir, "eval", key + ".pair");
                StampFile.WriteIfDifferent(pairStamp, $"{_resolved[model].Fingerprint}\n{taskFp}\n");
                item.SetMetadata("PairStamp", pairStamp);
                item.SetMetadata("DefinedIn", at.File);
                item.SetMetadata("Line", at.Line.ToString(CultureInfo.InvariantCulture));
                pairs[key] = item;
            }
        }
        return pairs.Values.ToArray();
    }
}
