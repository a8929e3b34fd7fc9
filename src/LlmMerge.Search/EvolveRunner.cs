using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMerge.Contracts.Fingerprints;
using LlmMerge.Core;
using LlmMerge.Core.IO;
using LlmMerge.Core.Recipes;
using LlmMerge.Engine.Execution;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling.Sources;
using LlmMerge.Search.Candidates;
using LlmMerge.Search.Cma;
using LlmMerge.Search.Genome;
using LlmMerge.Search.Scoring;
using LlmMerge.Search.Tasks;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Search;

/// <summary>What a search did, for the caller's summary.</summary>
public sealed record EvolveResult(double BestFitness, int Evaluations, int Scored, int Stored, IReadOnlyList<string> StopReasons,
    string BestConfigPath, string? FinalModelPath, double CandidatesPerMinute, long PeakBytes);

/// <summary>
/// <c>llmmerge evolve</c>: mergekit-evolve (mergekit/scripts/evolve.py at a6e40288) with the in-memory evaluator. The
/// genome's initial genotype and sigma0 start pycma-default CMA-ES (fmin2 with a parallel objective, restarts off);
/// each candidate's recipe is fingerprinted and looked up in the storage path before it is merged and scored, so a
/// search that is run again replays its seeded trajectory from the stored scores and scores only candidates it never
/// scored: an interrupted run continues where it stopped and a larger --max-fevals scores only the new generations.
/// Only the genome's tasks are read. Writes candidates.jsonl, best_config.yaml (on every improvement, as mergekit),
/// final_model/ (the best recipe merged to disk, as <c>llmmerge merge best_config.yaml</c> would), convergence.svg
/// and search.json.
/// </summary>
public sealed class EvolveRunner
{
    public const string SearchFile = "search.json";
    public const string BestConfigFile = "best_config.yaml";
    public const string FinalModelDir = "final_model";
    public const string ChartFile = "convergence.svg";

    private readonly ITaskScorer _scorer;

    public EvolveRunner(ITaskScorer? scorer = null) => _scorer = scorer ?? new MultipleChoiceTaskScorer();

    public EvolveResult Run(EvolveOptions options)
    {
        var config = EvolveConfigParser.ParseFile(options.GenomePath);
        int maxFevals = options.MaxFevals ?? config.Search.MaxFevals ?? 100;
        double sigma0 = options.Sigma0 ?? config.Search.Sigma0 ?? 1 / 6.0;
        ulong seed = options.RandomSeed ?? config.Search.RandomSeed ?? 0;
        int? popsize = options.Popsize ?? config.Search.Popsize;
        if (maxFevals < 1) throw new LlmMergeException($"--max-fevals must be at least 1 (got {maxFevals})");
        if (!(sigma0 > 0)) throw new LlmMergeException($"--sigma0 must be positive (got {sigma0})");
        if (popsize is < 2) throw new LlmMergeException($"--popsize must be at least 2 (got {popsize})");

        string genomeDir = Path.GetDirectoryName(config.SourcePath)!;
        using var models = new ModelResolver([Directory.GetCurrentDirectory(), genomeDir]);
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
        var tasks = LoadTasks(config, options, genomeDir, definition, models);

        string storage = Path.GetFullPath(options.StoragePath);
        Directory.CreateDirectory(storage);
        string identity = Identity(genome, fingerprints, tasks, config);
        CheckIdentity(storage, identity, config.SourcePath);
        string tool = ToolHash();
        var taskKeys = tasks.Select(t => (t.Spec.Name, t.Fingerprint)).ToList();

        var mergeOptions = new MergeOptions { Device = options.Device, RandomSeed = seed };
        using var store = new CandidateStore(storage);
        int jobs = options.Jobs ?? Environment.ProcessorCount;
        if (jobs < 1) throw new LlmMergeException($"--jobs must be at least 1 (got {jobs})");
        // Tiny models run best with one libtorch thread per job (intra-op threads spin-wait on a busy machine);
        // a single job of a large model keeps every core.
        Modeling.Torch.TorchRuntime.Initialize();
        TorchSharp.torch.set_num_threads(Math.Max(1, Environment.ProcessorCount / jobs));
        var evaluators = Enumerable.Range(0, jobs).Select(_ => new InMemoryEvaluator(models, mergeOptions, _scorer, storage)).ToList();
        using var disposeEvaluators = new Disposables(evaluators);
        var idle = new Stack<InMemoryEvaluator>(evaluators);
        var progress = options.Progress;
        progress?.WriteLine($"evolve: {definition.MergeMethod} over {definition.Models.Count} models, {genome.LayerGroups} layer group(s), {genome.Dimension} parameters; "
            + $"{tasks.Count} task(s); {store.Count} candidate(s) stored in {storage}");

        int generation = 0, scored = 0, stored = 0;
        bool finalMean = false;
        double scoringSeconds = 0;
        var clock = Stopwatch.StartNew();
        var summaries = new List<GenerationSummary>();
        var genFitness = new List<double>();
        double bestWritten = double.NegativeInfinity;
        string bestConfigPath = Path.Combine(storage, BestConfigFile);

        string RecipeText(IReadOnlyList<double> x) => YamlText.Of(genome.Recipe(x, r => r.ToString()));

        IReadOnlyList<double> Objective(IReadOnlyList<double[]> population)
        {
            if (!finalMean) generation++;
            var records = new CandidateRecord?[population.Count];
            var fps = new string[population.Count];
            var todo = new List<int>();
            for (int k = 0; k < population.Count; k++)
            {
                fps[k] = CandidateFingerprint.Of(YamlText.Of(genome.Recipe(population[k], r => fingerprints[r])), taskKeys, tool);
                records[k] = store.Find(fps[k]);
                if (records[k] is null) todo.Add(k); else stored++;
            }
            // Candidates not stored yet are merged and scored in parallel, one resident model per job (mergekit's actor pool).
            var wall = Stopwatch.StartNew();
            int gen = finalMean ? generation + 1 : generation;
            Parallel.ForEach(todo, new ParallelOptions { MaxDegreeOfParallelism = evaluators.Count }, k =>
            {
                InMemoryEvaluator evaluator;
                lock (idle) evaluator = idle.Pop();
                try
                {
                    var x = population[k];
                    var started = Stopwatch.StartNew();
                    var recipe = MergeRecipeParser.Parse(RecipeText(x), $"candidate {gen}.{k}");
                    var scores = evaluator.Evaluate(recipe, tasks);
                    var record = new CandidateRecord
                    {
                        Fingerprint = fps[k],
                        Generation = gen,
                        Index = k,
                        FinalMean = finalMean,
                        Genotype = x.ToArray(),
                        Parameters = genome.ParameterArrays(x),
                        Scores = scores,
                        Fitness = Fitness(scores, tasks),
                        Seconds = Math.Round(started.Elapsed.TotalSeconds, 4),
                    };
                    lock (store) store.Append(record);
                    records[k] = record;
                }
                finally
                {
                    lock (idle) idle.Push(evaluator);
                }
            });
            if (todo.Count > 0) scoringSeconds += wall.Elapsed.TotalSeconds;
            scored += todo.Count;
            genFitness.Clear();
            var values = new double[population.Count];
            for (int k = 0; k < population.Count; k++)
            {
                // The fitness is recomputed from the stored metrics, so it is the same number however it was reached.
                double fitness = Fitness(records[k]!.Scores, tasks);
                genFitness.Add(fitness);
                values[k] = -fitness;
            }
            return values;
        }

        void Callback(CmaEvolutionStrategy es)
        {
            double best = -es.Best.F;
            summaries.Add(new GenerationSummary(generation, es.CountEvals, best, genFitness.Max(), genFitness.Average()));
            if (best > bestWritten)
            {
                bestWritten = best;
                AtomicFile.WriteAllText(bestConfigPath, RecipeText(es.Best.X!));
            }
            double perMinute = scoringSeconds > 0 ? scored / scoringSeconds * 60 : 0;
            progress?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"evolve: generation {generation}: {es.CountEvals}/{maxFevals} evaluations ({scored} scored, {stored} stored), best {best:F4}, generation mean {genFitness.Average():F4}, {perMinute:F1} candidates/min"));
        }

        var cma = new CmaOptions { Seed = seed, Popsize = popsize, MaxFevals = maxFevals };
        // mergekit's random_init draws with torch.rand; here from a stream of its own, split from the search's seed.
        var x0 = genome.InitialGenotype(config.RandomInit ? new CmaRandom(seed ^ 0x5EED_1D17_0000_0001UL) : null);
        var es = CmaMinimizer.Minimize(x0, sigma0, cma, Objective, Callback, _ => finalMean = true);

        double bestFitness = -es.Best.F;
        AtomicFile.WriteAllText(bestConfigPath, RecipeText(es.Best.X!));
        string? finalModel = null;
        if (options.SaveFinalModel)
        {
            finalModel = Path.Combine(storage, FinalModelDir);
            progress?.WriteLine($"evolve: merging the best candidate (fitness {bestFitness.ToString("F4", CultureInfo.InvariantCulture)}) into {finalModel}");
            TorchSharp.torch.set_num_threads(Environment.ProcessorCount);
            new MergeExecutor(models, mergeOptions).Run(MergeRecipeParser.ParseFile(bestConfigPath), finalModel);
        }
        var stops = es.Stop().ToList();
        double candidatesPerMinute = scoringSeconds > 0 ? scored / scoringSeconds * 60 : 0;
        long peak = Eval.Scoring.PeakMemory.Bytes();
        AtomicFile.WriteAllText(Path.Combine(storage, ChartFile),
            ConvergenceChart.Render(summaries, $"{definition.MergeMethod} search: fitness (sum over {tasks.Count} validation task(s))"));
        WriteSearchJson(storage, identity, config, seed, sigma0, maxFevals, es, summaries, stops, scored, stored, candidatesPerMinute, peak, clock.Elapsed.TotalSeconds);
        progress?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"evolve: done ({string.Join(", ", stops)}): best fitness {bestFitness:F4} after {es.CountEvals} evaluations; {scored} scored now, {stored} from {CandidateStore.FileName}"));
        return new EvolveResult(bestFitness, es.CountEvals, scored, stored, stops, bestConfigPath, finalModel, candidatesPerMinute, peak);
    }

    private sealed class Disposables(IEnumerable<IDisposable> items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var d in items) d.Dispose();
        }
    }

    private static double Fitness(IReadOnlyDictionary<string, TaskScore> scores, IReadOnlyList<SearchTask> tasks)
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

    private static List<SearchTask> LoadTasks(EvolveConfig config, EvolveOptions options, string genomeDir, GenomeDefinition g, ModelResolver models)
    {
        var resolver = new TaskResolver(options.TaskSearchPaths, genomeDir);
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

    /// <summary>What the storage path belongs to: the genome (models by content), its task list and how tasks are scored.</summary>
    private static string Identity(Genome.Genome genome, Dictionary<ModelReference, string> fp, IReadOnlyList<SearchTask> tasks, EvolveConfig config)
    {
        var d = genome.Definition;
        var sb = new System.Text.StringBuilder("evolve v1\n");
        sb.Append("method ").Append(d.MergeMethod).Append('\n');
        foreach (var m in d.Models) sb.Append("model ").Append(fp[m]).Append('\n');
        sb.Append("base ").Append(d.BaseModel is null ? "-" : fp[d.BaseModel]).Append('\n');
        sb.Append("tokenizer ").Append(d.TokenizerSource ?? "-").Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"granularity {d.LayerGranularity} normalize {d.Normalize?.ToString() ?? "-"} negative {d.AllowNegativeWeights} smooth {d.Smooth}\n");
        sb.Append("filters ").Append(string.Join("\u0001", d.Filters)).Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"random_init {config.RandomInit}\n");
        foreach (var t in tasks)
            sb.Append("task ").Append(t.Spec.Name).Append(' ').Append(Genome.Genome.FormatNumber(t.Spec.Weight)).Append(' ').Append(t.Spec.Metric).Append(' ').Append(t.Fingerprint).Append('\n');
        return ContentHash.Sha256(sb.ToString());
    }

    private static void CheckIdentity(string storage, string identity, string genomePath)
    {
        string path = Path.Combine(storage, SearchFile);
        if (File.Exists(path))
        {
            JsonNode? node;
            try { node = JsonNode.Parse(File.ReadAllText(path)); }
            catch (JsonException e) { throw new LlmMergeException($"{path}: not a search record ({e.Message}); remove it to start this storage path afresh", e); }
            string? stored = node?["identity"]?.GetValue<string>();
            if (stored != identity)
                throw new LlmMergeException($"{storage} holds the candidates of another genome or task list (from {node?["genome"]?.GetValue<string>() ?? "?"}); give another --storage-path, or remove {storage} to start over");
            return;
        }
        if (Directory.Exists(storage) && File.Exists(Path.Combine(storage, CandidateStore.FileName)))
            throw new LlmMergeException($"{storage} holds {CandidateStore.FileName} but no {SearchFile}, so whose candidates they are is unknown; give another --storage-path");
        AtomicFile.WriteAllText(path, new JsonObject { ["identity"] = identity, ["genome"] = genomePath }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static void WriteSearchJson(string storage, string identity, EvolveConfig config, ulong seed, double sigma0, int maxFevals, CmaEvolutionStrategy es,
        List<GenerationSummary> summaries, List<string> stops, int scored, int stored, double perMinute, long peak, double seconds)
    {
        var gens = new JsonArray();
        foreach (var g in summaries)
            gens.Add(new JsonObject { ["generation"] = g.Generation, ["evaluations"] = g.Evaluations, ["best_so_far"] = g.BestSoFar, ["best"] = g.GenerationBest, ["mean"] = g.GenerationMean });
        var o = new JsonObject
        {
            ["identity"] = identity,
            ["genome"] = config.SourcePath,
            ["random_seed"] = seed,
            ["sigma0"] = sigma0,
            ["max_fevals"] = maxFevals,
            ["popsize"] = es.Parameters.Lambda,
            ["dimension"] = es.N,
            ["evaluations"] = es.CountEvals,
            ["generations"] = es.CountIter,
            ["best_fitness"] = -es.Best.F,
            ["best_genotype"] = new JsonArray(es.Best.X!.Select(v => (JsonNode)v).ToArray()),
            ["stop"] = new JsonArray(stops.Select(s => (JsonNode)s).ToArray()),
            ["scored_this_run"] = scored,
            ["stored_this_run"] = stored,
            ["candidates_per_minute"] = Math.Round(perMinute, 2),
            ["peak_rss_bytes"] = peak,
            ["seconds"] = Math.Round(seconds, 2),
            ["per_generation"] = gens,
        };
        AtomicFile.WriteAllText(Path.Combine(storage, SearchFile), o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
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
