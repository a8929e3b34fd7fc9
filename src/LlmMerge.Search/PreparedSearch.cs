using System.Text.Json.Nodes;
using LlmMerge.Contracts.Fingerprints;
using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using LlmMerge.Engine.Execution;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling.Sources;
using LlmMerge.Search.Genome;
using LlmMerge.Search.Scoring;
using LlmMerge.Search.Tasks;

namespace LlmMerge.Search;

/// <summary>
/// A genome made ready to score candidates: the config parsed, models resolved to absolute folders and fingerprinted
/// by content, shapes checked, the genome's tasks loaded (after its limit) and fingerprinted, the tools hashed. The
/// search (<see cref="EvolveRunner"/>) and a cluster worker scoring one candidate (<see cref="CandidateScoreRunner"/>)
/// both start from it, so a genotype names the same recipe and the same candidate fingerprint on either side.
/// </summary>
public sealed class PreparedSearch : IDisposable
{
    private PreparedSearch(EvolveConfig config, ModelResolver models, GenomeDefinition definition, Dictionary<ModelReference, string> fingerprints,
        Genome.Genome genome, List<SearchTask> tasks, ulong seed, string device)
    {
        Config = config;
        Models = models;
        Definition = definition;
        ModelFingerprints = fingerprints;
        Genome = genome;
        Tasks = tasks;
        Seed = seed;
        MergeOptions = new MergeOptions { Device = device, RandomSeed = seed };
        Tool = ToolHash();
        TaskKeys = tasks.Select(t => (t.Spec.Name, t.Fingerprint)).ToList();
    }

    public EvolveConfig Config { get; }

    /// <summary>Resolves and keeps open the genome's models.</summary>
    public ModelResolver Models { get; }

    /// <summary>The genome with every model an absolute folder.</summary>
    public GenomeDefinition Definition { get; }

    public IReadOnlyDictionary<ModelReference, string> ModelFingerprints { get; }

    public Genome.Genome Genome { get; }

    public IReadOnlyList<SearchTask> Tasks { get; }

    /// <summary>The search's seed: CMA-ES's and the random merge methods'.</summary>
    public ulong Seed { get; }

    public MergeOptions MergeOptions { get; }

    /// <summary>A hash of the assemblies that merge and score.</summary>
    public string Tool { get; }

    private IReadOnlyList<(string Name, string Fingerprint)> TaskKeys { get; }

    /// <param name="genomePath">The mergekit-evolve YAML.</param>
    /// <param name="taskSearchPaths">Folders searched for task YAMLs by name.</param>
    /// <param name="seed">--random-seed; null is the genome's search block, then 0.</param>
    /// <param name="device">Where candidates are merged and scored.</param>
    public static PreparedSearch Open(string genomePath, IReadOnlyList<string> taskSearchPaths, ulong? seed, string device)
    {
        var config = EvolveConfigParser.ParseFile(genomePath);
        string genomeDir = Path.GetDirectoryName(config.SourcePath)!;
        var models = new ModelResolver([Directory.GetCurrentDirectory(), genomeDir]);
        try
        {
            GenomeDefinition definition;
            Genome.Genome genome;
            try
            {
                definition = Absolute(config.Genome, models);
                genome = new Genome.Genome(definition, CheckShapes(definition, models));
            }
            catch (LlmMergeException e) when (!e.Message.StartsWith(config.SourcePath, StringComparison.Ordinal))
            {
                // The genome is what to fix: name its file (the message names the model or tensor).
                throw new LlmMergeException($"{config.SourcePath}: {e.Message}", e);
            }
            var fingerprints = definition.Models.Append(definition.BaseModel).OfType<ModelReference>().Distinct()
                .ToDictionary(m => m, m => ModelFingerprint(m, models));
            var tasks = LoadTasks(config, taskSearchPaths, genomeDir, definition, models);
            return new PreparedSearch(config, models, definition, fingerprints, genome, tasks, seed ?? config.Search.RandomSeed ?? 0, device);
        }
        catch
        {
            models.Dispose();
            throw;
        }
    }

    /// <summary>The candidate's recipe with models as folders: what is merged, and what best_config.yaml holds.</summary>
    public string RecipeText(IReadOnlyList<double> genotype) => YamlText.Of(Genome.Recipe(genotype, r => r.ToString()));

    /// <summary>The candidate's key: its recipe with models by content, the tasks' rows and the tools.</summary>
    public string Fingerprint(IReadOnlyList<double> genotype) =>
        CandidateFingerprint.Of(YamlText.Of(Genome.Recipe(genotype, r => ModelFingerprints[r])), TaskKeys, Tool);

    /// <summary>The candidate's recipe, parsed for the executor.</summary>
    public MergeRecipe Recipe(IReadOnlyList<double> genotype, string name) => MergeRecipeParser.Parse(RecipeText(genotype), name);

    /// <summary>Σ weight · metric over the tasks.</summary>
    public double Fitness(IReadOnlyDictionary<string, TaskScore> scores) => Fitness(scores, Tasks);

    public void Dispose() => Models.Dispose();

    internal static double Fitness(IReadOnlyDictionary<string, TaskScore> scores, IReadOnlyList<SearchTask> tasks)
    {
        double f = 0;
        foreach (var t in tasks)
        {
            if (!scores.TryGetValue(t.Spec.Name, out var s))
                throw new LlmMergeException($"a stored candidate has no score for task '{t.Spec.Name}'; the storage path belongs to another task list");
            f += s.Metric(t.Spec.Metric) * t.Spec.Weight;
        }
        return f;
    }

    /// <summary>The genome with every model an absolute folder (so best_config.yaml merges from anywhere), checked to exist.</summary>
    private static GenomeDefinition Absolute(GenomeDefinition g, ModelResolver models)
    {
        ModelReference Abs(ModelReference r)
        {
            var abs = new ModelReference(models.ResolvePath(r.Model), r.Lora is null ? null : models.ResolvePath(r.Lora));
            models.Source(abs);
            return abs;
        }
        var list = g.Models.Select(Abs).ToList();
        foreach (var dup in list.GroupBy(m => m).Where(x => x.Count() > 1))
            throw new LlmMergeException($"genome: model '{dup.Key}' is listed {dup.Count()} times; list each model once");
        var baseModel = g.BaseModel is null ? null : Abs(g.BaseModel);
        string? tokenizer = g.TokenizerSource is null or "base" or "union" ? g.TokenizerSource : Abs(ModelReference.Parse(g.TokenizerSource)).ToString();
        return g with { Models = list, BaseModel = baseModel, TokenizerSource = tokenizer };
    }

    private static string ModelFingerprint(ModelReference m, ModelResolver models)
    {
        var source = models.Source(m);
        if (source is LoraModelSource || m.Lora is not null)
        {
            string adapter = m.Lora ?? m.Model;
            return ContentHash.Sha256($"lora v1\n{ContentHash.Folder(source.Directory)}\n{ContentHash.Folder(adapter)}");
        }
        return ContentHash.Folder(source.Directory);
    }

    /// <summary>mergekit reads the layer count from the first model; every model must have the base's tensors and shapes.</summary>
    private static int CheckShapes(GenomeDefinition g, ModelResolver models)
    {
        var first = models.Source(g.Models[0]);
        int layers = first.Config?.NumHiddenLayers ?? throw new LlmMergeException($"{first.Directory}: config.json has no num_hidden_layers; a genome groups layers by it");
        var reference = g.BaseModel is null ? first : models.Source(g.BaseModel);
        foreach (var m in g.Models.Append(g.BaseModel).OfType<ModelReference>().Distinct())
        {
            var s = models.Source(m);
            if (s.Config?.NumHiddenLayers != layers)
                throw new LlmMergeException($"genome: model '{m}' has {s.Config?.NumHiddenLayers} layers and '{g.Models[0]}' {layers}; a genome merges models of one shape");
            foreach (string name in reference.TensorNames)
            {
                if (!s.Contains(name))
                    throw new LlmMergeException($"genome: model '{m}' has no tensor '{name}' that '{reference.Reference}' has; a genome merges models of one shape");
                var a = s.GetInfo(name).Shape;
                var b = reference.GetInfo(name).Shape;
                if (!a.SequenceEqual(b))
                    throw new LlmMergeException($"genome: tensor '{name}' is [{string.Join(", ", a)}] in model '{m}' but [{string.Join(", ", b)}] in '{reference.Reference}'; a genome merges models of one shape");
            }
        }
        return layers;
    }

    private static List<SearchTask> LoadTasks(EvolveConfig config, IReadOnlyList<string> taskSearchPaths, string genomeDir, GenomeDefinition g, ModelResolver models)
    {
        var resolver = new TaskResolver(taskSearchPaths, genomeDir);
        var tasks = new List<SearchTask>();
        foreach (var spec in config.Tasks)
        {
            string file = resolver.Resolve(spec.Name);
            var loaded = TaskLoader.Load(file, config.NumFewshot);
            var rows = config.Limit is int limit ? loaded.Rows.Take(limit).ToList() : loaded.Rows;
            if (!loaded.Metrics.Contains(spec.Metric))
                throw new LlmMergeException($"task '{spec.Name}' ({file}) does not report {spec.Metric} (it reports {string.Join(", ", loaded.Metrics)})");
            var task = loaded with { Rows = rows };
            tasks.Add(new SearchTask(spec, file, task, TaskFingerprint.Of(task, spec.Metric)));
        }
        if (config.ApplyChatTemplate)
        {
            // lm-eval's apply_chat_template wraps prompts in the tokenizer's template; our scorer has none to apply.
            var tokenizerModel = g.BaseModel ?? g.Models[0];
            string tc = Path.Combine(models.Source(tokenizerModel).Directory, "tokenizer_config.json");
            if (File.Exists(tc) && JsonNode.Parse(File.ReadAllText(tc)) is JsonObject o && o["chat_template"] is not null)
                throw new LlmMergeException($"{config.SourcePath}: the models' tokenizer has a chat template and apply_chat_template is true (mergekit's default); scoring through a chat template is not supported, set apply_chat_template: false");
        }
        return tasks;
    }

    /// <summary>The assemblies that merge and score: a change to any rescoring every candidate.</summary>
    private static string ToolHash()
    {
        var assemblies = new[]
        {
            typeof(LlmMergeException).Assembly, typeof(ContentHash).Assembly, typeof(ModelResolver).Assembly, typeof(Tokenizers.HfTokenizer).Assembly,
            typeof(MergeExecutor).Assembly, typeof(TaskLoader).Assembly, typeof(EvolveRunner).Assembly,
        };
        var sb = new System.Text.StringBuilder();
        foreach (var a in assemblies.Distinct().OrderBy(a => a.GetName().Name, StringComparer.Ordinal))
            sb.Append(a.GetName().Name).Append(' ').Append(string.IsNullOrEmpty(a.Location) ? a.ManifestModule.ModuleVersionId.ToString() : ContentHash.File(a.Location)).Append('\n');
        return ContentHash.Sha256(sb.ToString())[..16];
    }
}
