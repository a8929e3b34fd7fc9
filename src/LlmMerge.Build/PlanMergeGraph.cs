using System.Globalization;
using System.Text;
using LlmMerge.Build.Kinds;
using LlmMerge.Contracts.Hub;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Build;

/// <summary>
/// Fingerprints every expert and step, writes each step's normalised recipe and its stamp (only when the
/// fingerprint changed), writes the lock file, and writes one small project per graph node (a step, or the
/// evaluations of one model) that names the nodes it waits for. The Merge and Evaluate targets build those node
/// projects in parallel; MSBuild runs each node once, after its dependencies, so an evaluation starts as soon as
/// its model exists. A step's stamp is its target's input and its marker the output, so MSBuild's own
/// up-to-date check skips a step whose fingerprint did not change.
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
    /// <summary>Part of every evaluation's cache key; when empty, a hash of the assemblies that score (see <see cref="ToolHashes.Evaluator"/>).</summary>
    public string EvaluatorVersion { get; set; } = "";
    public string CliDir { get; set; } = "";
    /// <summary>Extra arguments every merge runs with (e.g. --out-shard-size); part of each step's fingerprint.</summary>
    public string MergeArguments { get; set; } = "";
    /// <summary>The targets file every node project imports (build/LlmMerge.Node.targets).</summary>
    [Required] public string NodeTargets { get; set; } = "";
    /// <summary>Properties every node project gets as they are here (the CLI and task assemblies, verbosity settings).</summary>
    public ITaskItem[] NodeProperties { get; set; } = [];

    [Output] public ITaskItem[] PlannedSteps { get; private set; } = [];
    [Output] public ITaskItem[] Models { get; private set; } = [];
    [Output] public ITaskItem[] EvaluationPairs { get; private set; } = [];
    /// <summary>The node projects, with NodeKind step or eval.</summary>
    [Output] public ITaskItem[] Nodes { get; private set; } = [];

    private readonly Dictionary<string, (string Dir, string Fingerprint)> _resolved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _stepNodes = new(StringComparer.Ordinal);

    public override bool Execute()
    {
        MergeGraph? graph = MergeGraph.Load(Log, ProjectFile, Experts, Steps, Evaluations);
        if (graph is null)
            return false;
        var hashes = new Fingerprints(Path.Combine(StateDir, "file-hashes.json"));
        string toolVersion = ToolVersion.Length > 0 ? ToolVersion : ToolHashes.Cli(CliDir, hashes);
        string evaluatorVersion = EvaluatorVersion.Length > 0 ? EvaluatorVersion : ToolHashes.Evaluator(CliDir, hashes);
        if (!ResolveExperts(graph, hashes))
            return false;

        var models = new List<ITaskItem>();
        foreach (ExpertNode e in graph.Experts.Values)
            models.Add(ModelItem(e.Name, "expert", e.Item, "", "", ""));

        var planned = new List<ITaskItem>();
        var nodes = new List<ITaskItem>();
        string stepDir = Path.Combine(StateDir, "steps");
        var extra = MergeArguments.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (StepNode step in graph.Order)
        {
            string output = step.Item.GetMetadata("OutputPath") is { Length: > 0 } custom
                ? Path.GetFullPath(Path.Combine(Path.GetDirectoryName(ProjectFile)!, custom))
                : Path.Combine(ArtifactsDir, step.Name);
            output = Path.TrimEndingDirectorySeparator(output);
            YamlMappingNode runRecipe = step.Kind.Recipe(step, name => _resolved[name].Dir, path => path);
            YamlMappingNode hashRecipe = step.Kind.Recipe(step, name => _resolved[name].Fingerprint, hashes.Folder);
            // MergeStep keeps the fingerprint text it always had; other kinds name themselves.
            string kind = step.Kind is MergeStepKind ? "" : $"kind {step.Kind.ItemType}\n";
            string fingerprint = Fingerprints.Sha256($"step v1\n{kind}tool {toolVersion}\nargs {MergeArguments}\n{RecipeYaml.ToYaml(hashRecipe)}");
            string stamp = Path.Combine(stepDir, step.Name + ".stamp");
            string recipeFile = Path.Combine(stepDir, step.Name + ".yml");
            StampFile.WriteIfDifferent(recipeFile, $"# Normalised from {ProjectFile}, {step.Kind.ItemType} '{step.Name}'; fingerprint {fingerprint}\n{RecipeYaml.ToYaml(runRecipe)}");
            bool changed = StampFile.WriteIfDifferent(stamp, fingerprint + "\n");
            Log.LogMessage(changed ? MessageImportance.Normal : MessageImportance.Low,
                $"{step.Kind.ItemType} '{step.Name}': fingerprint {fingerprint[..12]}{(changed ? " (changed)" : " (unchanged)")}");
            string modelDir = step.Kind.ModelDir(output);
            _resolved[step.Name] = (modelDir, fingerprint);

            ItemLocation at = graph.Locate(step.Item, step.Kind.ItemType);
            var item = new TaskItem(step.Name);
            item.SetMetadata("Kind", step.Kind.ItemType);
            item.SetMetadata("Method", step.Method);
            item.SetMetadata("Level", step.Level.ToString(CultureInfo.InvariantCulture));
            item.SetMetadata("Fingerprint", fingerprint);
            item.SetMetadata("StampFile", stamp);
            item.SetMetadata("RecipeFile", recipeFile);
            item.SetMetadata("MarkerFile", Path.Combine(stepDir, step.Name + ".done"));
            item.SetMetadata("StatsFile", Path.Combine(stepDir, step.Name + ".stats.json"));
            item.SetMetadata("OutputDir", output);
            item.SetMetadata("ModelDir", modelDir);
            item.SetMetadata("Inputs", string.Join(",", step.Inputs));
            item.SetMetadata("DefinedIn", at.File);
            item.SetMetadata("Line", at.Line.ToString(CultureInfo.InvariantCulture));
            planned.Add(item);
            models.Add(ModelItem(step.Name, "step", step.Item, step.Method, string.Join(",", step.Inputs), step.Kind.ItemType));

            string node = NodeProject("step", step.Name, new()
            {
                ["LlmMergeNodeKind"] = "step",
                ["LlmMergeStepName"] = step.Name,
                ["LlmMergeStepSubject"] = $"{step.Kind.ItemType} '{step.Name}'",
                ["LlmMergeStepVerb"] = step.Kind.Verb,
                ["LlmMergeStepStamp"] = stamp,
                ["LlmMergeStepMarker"] = item.GetMetadata("MarkerFile"),
                ["LlmMergeStepStats"] = item.GetMetadata("StatsFile"),
                ["LlmMergeStepModelFile"] = Path.Combine(modelDir, step.Kind.ModelMarker),
                ["LlmMergeStepFingerprint"] = fingerprint,
                ["LlmMergeStepDefinedIn"] = at.File,
                ["LlmMergeStepLine"] = at.Line.ToString(CultureInfo.InvariantCulture),
            }, step.Kind.Arguments(recipeFile, output, extra), step.Inputs.Where(_stepNodes.ContainsKey).Select(i => _stepNodes[i]), []);
            _stepNodes[step.Name] = node;
            nodes.Add(NodeItem(node, "step", step.Name));
        }
        foreach (ITaskItem m in models)
        {
            m.SetMetadata("Dir", _resolved[m.ItemSpec].Dir);
            m.SetMetadata("Fingerprint", _resolved[m.ItemSpec].Fingerprint);
        }

        EvaluationPairs = Pairs(graph, hashes, evaluatorVersion, nodes);
        hashes.Save();
        PlannedSteps = planned.ToArray();
        Models = models.ToArray();
        Nodes = nodes.ToArray();
        return !Log.HasLoggedErrors;
    }

    private static TaskItem ModelItem(string name, string kind, ITaskItem source, string method, string inputs, string stepKind)
    {
        var item = new TaskItem(name);
        item.SetMetadata("Kind", kind);
        item.SetMetadata("StepKind", stepKind);
        item.SetMetadata("Method", method);
        item.SetMetadata("Inputs", inputs);
        item.SetMetadata("Publish", source.GetMetadata("Publish"));
        item.SetMetadata("Description", source.GetMetadata("Description"));
        return item;
    }

    private static TaskItem NodeItem(string project, string kind, string name)
    {
        var item = new TaskItem(project);
        item.SetMetadata("NodeKind", kind);
        item.SetMetadata("NodeName", name);
        return item;
    }

    /// <summary>
    /// Writes a node's project (only when it changed): its properties, the verb's arguments, the node projects it
    /// waits for, and its evaluation pairs; returns its path.
    /// </summary>
    private string NodeProject(string kind, string name, Dictionary<string, string> properties, IEnumerable<string> arguments,
        IEnumerable<string> dependencies, IEnumerable<ITaskItem> pairs)
    {
        string path = Path.Combine(StateDir, "nodes", $"{kind}-{FileName(name)}.proj");
        var xml = new StringBuilder("<Project>\n  <!-- Written by PlanMergeGraph from ").Append(Xml(ProjectFile)).Append("; one node of the merge graph. -->\n  <PropertyGroup>\n");
        foreach (ITaskItem p in NodeProperties)
            properties.TryAdd(p.ItemSpec, p.GetMetadata("Value"));
        foreach (var (k, v) in properties)
            xml.Append("    <").Append(k).Append('>').Append(Xml(Escape(v))).Append("</").Append(k).Append(">\n");
        xml.Append("  </PropertyGroup>\n  <ItemGroup>\n");
        foreach (string a in arguments)
            xml.Append("    <LlmMergeNodeArgument Include=\"").Append(Xml(Escape(a))).Append("\" />\n");
        foreach (string d in dependencies)
            xml.Append("    <LlmMergeNodeDependency Include=\"").Append(Xml(Escape(d))).Append("\" />\n");
        foreach (ITaskItem pair in pairs)
        {
            // The pair's stamp is the item itself and its result a transform of it: MSBuild's partial builds then hand
            // the target only the pairs whose result is missing or older than their stamp.
            xml.Append("    <LlmMergeEvalPair Include=\"").Append(Xml(Escape(pair.GetMetadata("PairStamp")))).Append("\">\n");
            foreach (string m in new[] { "PairKey", "TaskFile", "TaskName", "ResultFile", "SamplesFile" })
                xml.Append("      <").Append(m).Append('>').Append(Xml(Escape(pair.GetMetadata(m)))).Append("</").Append(m).Append(">\n");
            xml.Append("    </LlmMergeEvalPair>\n");
        }
        xml.Append("  </ItemGroup>\n  <Import Project=\"").Append(Xml(Escape(NodeTargets))).Append("\" />\n</Project>\n");
        StampFile.WriteIfDifferent(path, xml.ToString());
        return path;
    }

    private static string FileName(string name) =>
        string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));

    private static string Xml(string s) => System.Security.SecurityElement.Escape(s);

    /// <summary>MSBuild's escaping, so a value is read back as written: no property, item or list syntax, no wildcards.</summary>
    internal static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            if (c is '%' or '$' or '@' or ';' or '\'' or '*' or '?')
                sb.Append('%').Append(((int)c).ToString("X2", CultureInfo.InvariantCulture));
            else
                sb.Append(c);
        }
        return sb.ToString();
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

    /// <summary>
    /// Every (model, task) pair, cached by (evaluator, model fingerprint, task fingerprint), and one evaluation node
    /// per model that scores all its unscored tasks in one process.
    /// </summary>
    private ITaskItem[] Pairs(MergeGraph graph, Fingerprints hashes, string evaluator, List<ITaskItem> nodes)
    {
        var pairs = new Dictionary<string, ITaskItem>(StringComparer.Ordinal);
        var byModel = new Dictionary<string, (List<ITaskItem> Pairs, ItemLocation At, string Evaluation)>(StringComparer.Ordinal);
        foreach (EvaluationNode eval in graph.Evaluations)
        {
            ItemLocation at = graph.Locate(eval.Item, "Evaluation");
            foreach (string model in eval.Models)
            foreach (string task in eval.TaskFiles)
            {
                string taskFp = hashes.File256(task);
                string key = Fingerprints.Sha256($"eval v2\nevaluator {evaluator}\n{_resolved[model].Fingerprint}\n{taskFp}")[..32];
                if (pairs.ContainsKey(key)) continue;
                var item = new TaskItem(key);
                item.SetMetadata("PairKey", key);
                item.SetMetadata("Model", model);
                item.SetMetadata("ModelDir", _resolved[model].Dir);
                item.SetMetadata("TaskFile", task);
                item.SetMetadata("TaskName", Path.GetFileNameWithoutExtension(task));
                item.SetMetadata("Evaluation", eval.Name);
                item.SetMetadata("ResultFile", Path.Combine(EvalCacheDir, key + ".json"));
                item.SetMetadata("SamplesFile", Path.Combine(EvalCacheDir, key + ".samples.jsonl"));
                string pairStamp = Path.Combine(StateDir, "eval", key + ".pair");
                StampFile.WriteIfDifferent(pairStamp, $"{evaluator}\n{_resolved[model].Fingerprint}\n{taskFp}\n");
                item.SetMetadata("PairStamp", pairStamp);
                item.SetMetadata("DefinedIn", at.File);
                item.SetMetadata("Line", at.Line.ToString(CultureInfo.InvariantCulture));
                pairs[key] = item;
                if (!byModel.TryGetValue(model, out var list))
                    byModel[model] = list = ([], at, eval.Name);
                list.Pairs.Add(item);
            }
        }
        foreach (var (model, (modelPairs, at, evaluation)) in byModel)
        {
            string node = NodeProject("eval", model, new()
            {
                ["LlmMergeNodeKind"] = "eval",
                ["LlmMergeEvalModel"] = model,
                ["LlmMergeEvalModelDir"] = _resolved[model].Dir,
                ["LlmMergeEvalSubject"] = $"Evaluation '{evaluation}': {model}",
                ["LlmMergeEvalDefinedIn"] = at.File,
                ["LlmMergeEvalLine"] = at.Line.ToString(CultureInfo.InvariantCulture),
                ["LlmMergeEvalCacheDir"] = EvalCacheDir,
            }, [], _stepNodes.TryGetValue(model, out string? step) ? [step] : [], modelPairs);
            foreach (var p in modelPairs)
                p.SetMetadata("EvalNode", node);
            nodes.Add(NodeItem(node, "eval", model));
        }
        return pairs.Values.ToArray();
    }
}
