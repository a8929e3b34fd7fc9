using LlmMerge.Core;
using LlmMerge.Core.IO;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Eval.Scoring;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Routing;
using LlmMerge.Modeling.Sources;
using LlmMerge.Tokenizers;
using static TorchSharp.torch;

namespace LlmMerge.Eval.Routing;

/// <summary>
/// <c>llmmerge route</c>: builds a routed system from a <see cref="RouteConfig"/> into a folder that evaluates like a
/// model: router.json (kind, layer, base and experts with fingerprints), router.safetensors (prototypes), the base's
/// tokenizer files and a model card; for task routing also each expert's validation RESULTS.json under validation/.
/// Every check runs before anything is written, and the folder appears whole or not at all.
/// </summary>
public sealed class RouterBuilder
{
    private static readonly string[] TokenizerFiles =
        ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json", "generation_config.json"];

    /// <summary>Where models run while the router is built (cpu, cuda, cuda:N).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Progress lines (one per stage), or null.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Builds the router <paramref name="config"/> describes into <paramref name="outDir"/>; returns what it wrote.</summary>
    public RouterManifest Build(RouteConfig config, string outDir)
    {
        ArgumentNullException.ThrowIfNull(config);
        string configDir = Path.GetDirectoryName(Path.GetFullPath(config.Path)) ?? Directory.GetCurrentDirectory();
        string[] searchDirs = [Directory.GetCurrentDirectory(), configDir];
        using var resolver = new ModelResolver(searchDirs);
        var baseModel = RouterModel.Resolve(resolver, "base", config.BaseModel, "base_model");
        if (baseModel.IsAdapter)
            throw new LlmMergeException($"base_model: {baseModel.Folder} is a LoRA adapter; the base must be a model folder");
        var experts = config.Experts.Select(e => RouterModel.Resolve(resolver, e.Name, e.SourceModel, $"expert '{e.Name}'")).ToList();
        CheckExperts(config, baseModel, experts);

        string finalDir = Path.GetFullPath(outDir);
        using var output = new OutputFolder(finalDir);
        RouterManifest manifest = config.Kind switch
        {
            RoutingKind.Query => BuildQuery(config, baseModel, experts, searchDirs, output.WorkPath),
            RoutingKind.Task => BuildTask(config, baseModel, experts, searchDirs, output.WorkPath),
            _ => BuildArrow(config, baseModel, experts, output.WorkPath),
        };
        manifest = manifest with { Base = baseModel.Entry(finalDir), Experts = experts.Select(e => e.Entry(finalDir)).ToList() };
        foreach (string f in TokenizerFiles)
        {
            string from = Path.Combine(baseModel.ConfigFolder, f);
            if (File.Exists(from))
                File.Copy(from, Path.Combine(output.WorkPath, f));
        }
        File.WriteAllText(Path.Combine(output.WorkPath, RouterManifest.FileName), manifest.ToJson());
        File.WriteAllText(Path.Combine(output.WorkPath, "README.md"), RouterCard.Write(manifest, config));
        output.Commit();
        return manifest;
    }

    private static void CheckExperts(RouteConfig config, RouterModel baseModel, List<RouterModel> experts)
    {
        foreach (var e in experts)
        {
            if (!TokenizerMatch.Same(baseModel.ConfigFolder, e.ConfigFolder))
                throw new LlmMergeException($"expert '{e.Name}': its tokenizer ({e.ConfigFolder}) differs from the base's ({baseModel.ConfigFolder}); a routed system scores every row with one tokenizer");
            switch (config.Kind)
            {
                case RoutingKind.Query when e.Config.Architecture != baseModel.Config.Architecture:
                    throw new LlmMergeException($"expert '{e.Name}' is {e.Config.Architecture ?? "of no stated architecture"} but the base is {baseModel.Config.Architecture}; query routing compares queries in the base's hidden states, so experts must share its architecture (task routing allows others with the same tokenizer)");
                case RoutingKind.Arrow when e.Adapter is null:
                    throw new LlmMergeException($"expert '{e.Name}': {e.Folder} is not a LoRA adapter; gate_mode arrow routes LoRA adapters of one base");
                case RoutingKind.Arrow when !string.Equals(e.ConfigFolder, baseModel.Folder, StringComparison.Ordinal):
                    throw new LlmMergeException($"expert '{e.Name}': the adapter's base is {e.ConfigFolder}, not base_model {baseModel.Folder}; Arrow routes adapters of one base");
            }
        }
    }

    private RouterManifest BuildQuery(RouteConfig config, RouterModel baseModel, List<RouterModel> experts, string[] searchDirs, string work)
    {
        var tokenizer = HfTokenizer.FromFolder(baseModel.ConfigFolder);
        int layers = baseModel.Config.NumHiddenLayers ?? throw new LlmMergeException($"{baseModel.Folder}: config.json has no num_hidden_layers");
        int layer = config.Layer ?? layers - 1;
        if (layer >= layers)
            throw new LlmMergeException($"layer {layer}: the base has layers 0 .. {layers - 1}; layer names the hidden state entering that layer");
        int maxLength = baseModel.Config.Json["max_position_embeddings"]?.GetValue<int>() ?? int.MaxValue;

        // Every prompt is encoded before the base loads, so an empty one stops the build at once.
        var prompts = config.Experts.Select(e =>
        {
            var positive = new List<IReadOnlyList<int>>();
            for (int i = 0; i < e.PositivePrompts.Count; i++)
                positive.Add(Encoded(tokenizer, e.PositivePrompts[i], maxLength, $"expert '{e.Name}': positive prompt {i} (\"{Short(e.PositivePrompts[i])}\")"));
            foreach (var source in e.PromptTasks)
            {
                string file = FindFile(source.File, searchDirs, $"expert '{e.Name}': prompt task");
                var rows = TaskLoader.Load(file).Rows;
                foreach (var row in source.Limit is int limit ? rows.Take(limit) : rows)
                    positive.Add(Encoded(tokenizer, row.Context, maxLength, $"expert '{e.Name}': {row.Source} (row id {row.Id}, from prompt_tasks)"));
            }
            var negative = e.NegativePrompts.Select((p, i) => Encoded(tokenizer, p, maxLength, $"expert '{e.Name}': negative prompt {i} (\"{Short(p)}\")")).ToList();
            return (Positive: positive, Negative: negative);
        }).ToList();

        Log?.Invoke($"route: prototypes of {experts.Count} experts from {prompts.Sum(p => p.Positive.Count + p.Negative.Count)} prompts ({config.GateMode}{(config.GateMode == "cheap_embed" ? "" : $", layer {layer}")})");
        using var model = CausalLmLoader.LoadModel(baseModel.Folder, Device, config.DType);
        var pooling = config.GateMode == "hidden_avg" ? PromptPooling.Mean : PromptPooling.LastToken;
        var vectors = prompts.Select(p => config.GateMode == "cheap_embed"
            ? PromptPrototypes.CheapGateVector(model.Model, p.Positive, p.Negative)
            : PromptPrototypes.GateVectors(model.Model, p.Positive, p.Negative, [layer], pooling)[0]).ToList();
        WriteRows(Path.Combine(work, RouterManifest.WeightsFile), RouterManifest.PrototypesTensor, vectors);
        return new RouterManifest
        {
            Kind = RoutingKind.Query,
            GateMode = config.GateMode,
            Layer = layer,
            Base = null!,
            Experts = [],
            Prompts = config.Experts.Select((e, i) => (e.Name, (prompts[i].Positive.Count, prompts[i].Negative.Count))).ToDictionary(x => x.Name, x => x.Item2, StringComparer.Ordinal),
        };
    }

    private RouterManifest BuildTask(RouteConfig config, RouterModel baseModel, List<RouterModel> experts, string[] searchDirs, string work)
    {
        // Validation files load first: a bad one stops the build before any expert is scored.
        var files = config.Validation.Select(v => (Task: v.Key, Written: v.Value, File: FindFile(v.Value, searchDirs, $"validation of task '{v.Key}'"))).ToList();
        var distinct = files.Select(f => f.File).Distinct(StringComparer.Ordinal).ToList();
        foreach (string f in distinct)
        {
            var task = TaskLoader.Load(f);
            if (!task.Rows.Any(r => r.Target is not null))
                throw new LlmMergeException($"{f}: no row has a target, so it cannot rank the experts; give a labeled validation split");
        }

        var scores = new Dictionary<string, Dictionary<string, double>>(StringComparer.Ordinal); // file → expert → acc
        foreach (string f in distinct) scores[f] = new Dictionary<string, double>(StringComparer.Ordinal);
        string validationDir = Path.Combine(work, "validation");
        Directory.CreateDirectory(validationDir);
        foreach (var e in experts)
        {
            Log?.Invoke($"route: scoring expert '{e.Name}' on {distinct.Count} validation file(s)");
            var runner = new EvalRunner(dir => CausalLmLoader.Load(dir, Device));
            var report = runner.Run(e.Folder, new EvalOptions { Tasks = distinct, OutputPath = Path.Combine(validationDir, e.Name + ".json"), Device = Device });
            for (int i = 0; i < distinct.Count; i++)
            {
                double? acc = report.Tasks[i].Metrics.GetValueOrDefault(MetricNames.Acc);
                scores[distinct[i]][e.Name] = acc ?? throw new LlmMergeException($"{distinct[i]}: expert '{e.Name}' has no acc on it; a validation task must report acc");
            }
        }

        var choices = files.Select(f =>
        {
            var byExpert = scores[f.File];
            // Ties go to the first expert listed: a strict comparison keeps the earlier one.
            string best = experts[0].Name;
            foreach (var e in experts.Skip(1))
            {
                if (byExpert[e.Name] > byExpert[best]) best = e.Name;
            }
            return new RouterTaskChoice(f.Task, best, f.Written, experts.ToDictionary(e => e.Name, e => byExpert[e.Name], StringComparer.Ordinal));
        }).ToList();
        return new RouterManifest { Kind = RoutingKind.Task, GateMode = "validation", Base = null!, Experts = [], Tasks = choices };
    }

    private RouterManifest BuildArrow(RouteConfig config, RouterModel baseModel, List<RouterModel> experts, string work)
    {
        var adapters = experts.Select(e => (e.Name, e.Adapter!)).ToList();
        Log?.Invoke($"route: Arrow prototypes of {adapters.Count} adapters");
        var prototypes = ArrowAdapters.Prototypes(adapters);
        try
        {
            WriteTensors(Path.Combine(work, RouterManifest.WeightsFile), prototypes.Select(p => (ArrowAdapters.PrototypeTensor(p.Key), p.Value)).ToList());
        }
        finally
        {
            foreach (var t in prototypes.Values) t.Dispose();
        }
        return new RouterManifest
        {
            Kind = RoutingKind.Arrow,
            GateMode = "arrow",
            Base = null!,
            Experts = [],
            TopK = Math.Min(config.TopK, experts.Count),
            Temperature = config.Temperature,
        };
    }

    private static IReadOnlyList<int> Encoded(HfTokenizer tokenizer, string text, int maxLength, string what)
    {
        var ids = RoutingPrompts.Encode(tokenizer, text, maxLength);
        return ids.Count > 0 ? ids : throw new LlmMergeException($"{what} tokenizes to nothing; give it some text");
    }

    private static string Short(string s) => (s.Length > 40 ? s[..40] + "..." : s).ReplaceLineEndings(" ");

    /// <summary>A task file relative to the working directory or the config, as models are found.</summary>
    internal static string FindFile(string file, IEnumerable<string> searchDirs, string what)
    {
        if (Path.IsPathRooted(file))
            return File.Exists(file) ? file : throw new LlmMergeException($"{what}: {file} not found");
        foreach (string dir in searchDirs)
        {
            string p = Path.GetFullPath(Path.Combine(dir, file));
            if (File.Exists(p)) return p;
        }
        throw new LlmMergeException($"{what}: {file} not found (looked in {string.Join(", ", searchDirs.Distinct())})");
    }

    // One float32 matrix [rows, columns], little-endian as safetensors stores it.
    private static void WriteRows(string path, string name, IReadOnlyList<double[]> rows)
    {
        using var writer = new SafetensorsWriter(path, [(name, SafetensorsDType.F32, new long[] { rows.Count, rows[0].Length })]);
        var bytes = new byte[rows.Count * rows[0].Length * 4];
        int at = 0;
        foreach (var row in rows)
        {
            foreach (double v in row)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(at), (float)v);
                at += 4;
            }
        }
        writer.Write(name, bytes);
        writer.Complete();
    }

    private static void WriteTensors(string path, IReadOnlyList<(string Name, Tensor Value)> tensors)
    {
        var specs = tensors.Select(t => (t.Name, SafetensorsDType.F32, t.Value.shape)).ToList();
        using var writer = new SafetensorsWriter(path, specs);
        foreach (var (name, value) in tensors)
            Modeling.Torch.TensorBridge.Store(value, ScalarType.Float32, (offset, bytes) => writer.Write(name, bytes, offset));
        writer.Complete();
    }
}
