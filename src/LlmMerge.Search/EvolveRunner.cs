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
/// and search.json. Where candidates are scored is an <see cref="ICandidateScorer"/>: resident models in this process
/// (<see cref="LocalCandidateScorer"/>), or a cluster's workers (<c>llmmerge evolve --cluster</c>); either way this
/// process alone writes the storage path.
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
        using var search = PreparedSearch.Open(options.GenomePath, options.TaskSearchPaths, options.RandomSeed, options.Device);
        var config = search.Config;
        int maxFevals = options.MaxFevals ?? config.Search.MaxFevals ?? 100;
        double sigma0 = options.Sigma0 ?? config.Search.Sigma0 ?? 1 / 6.0;
        ulong seed = search.Seed;
        int? popsize = options.Popsize ?? config.Search.Popsize;
        if (maxFevals < 1) throw new LlmMergeException($"--max-fevals must be at least 1 (got {maxFevals})");
        if (!(sigma0 > 0)) throw new LlmMergeException($"--sigma0 must be positive (got {sigma0})");
        if (popsize is < 2) throw new LlmMergeException($"--popsize must be at least 2 (got {popsize})");
        var definition = search.Definition;
        var genome = search.Genome;
        var tasks = search.Tasks;

        string storage = Path.GetFullPath(options.StoragePath);
        Directory.CreateDirectory(storage);
        string identity = Identity(genome, search.ModelFingerprints, tasks, config);
        CheckIdentity(storage, identity, config.SourcePath);

        using var store = new CandidateStore(storage);
        int jobs = options.Jobs ?? Environment.ProcessorCount;
        if (jobs < 1) throw new LlmMergeException($"--jobs must be at least 1 (got {jobs})");
        using var candidateScorer = options.CandidateScorer?.Invoke(search) ?? new LocalCandidateScorer(search, _scorer, storage, jobs);
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

        IReadOnlyList<double> Objective(IReadOnlyList<double[]> population)
        {
            if (!finalMean) generation++;
            var records = new CandidateRecord?[population.Count];
            var todo = new List<CandidateJob>();
            int gen = finalMean ? generation + 1 : generation;
            for (int k = 0; k < population.Count; k++)
            {
                string fp = search.Fingerprint(population[k]);
                records[k] = store.Find(fp);
                if (records[k] is null) todo.Add(new CandidateJob(gen, k, fp, population[k].ToArray())); else stored++;
            }
            // Candidates not stored yet are scored at once (in memory here, or across a cluster's workers); each is
            // stored by this process as soon as it is scored, so candidates.jsonl has one writer.
            var wall = Stopwatch.StartNew();
            if (todo.Count > 0)
            {
                candidateScorer.Score(todo, (c, scores, seconds) =>
                {
                    var record = new CandidateRecord
                    {
                        Fingerprint = c.Fingerprint,
                        Generation = c.Generation,
                        Index = c.Index,
                        FinalMean = finalMean,
                        Genotype = c.Genotype,
                        Parameters = genome.ParameterArrays(c.Genotype),
                        Scores = scores,
                        Fitness = search.Fitness(scores),
                        Seconds = Math.Round(seconds, 4),
                    };
                    lock (store) store.Append(record);
                    records[c.Index] = record;
                });
                scoringSeconds += wall.Elapsed.TotalSeconds;
            }
            scored += todo.Count;
            genFitness.Clear();
            var values = new double[population.Count];
            for (int k = 0; k < population.Count; k++)
            {
                // The fitness is recomputed from the stored metrics, so it is the same number however it was reached.
                double fitness = search.Fitness(records[k]!.Scores);
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
                AtomicFile.WriteAllText(bestConfigPath, search.RecipeText(es.Best.X!));
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
        AtomicFile.WriteAllText(bestConfigPath, search.RecipeText(es.Best.X!));
        string? finalModel = null;
        if (options.SaveFinalModel)
        {
            finalModel = Path.Combine(storage, FinalModelDir);
            progress?.WriteLine($"evolve: merging the best candidate (fitness {bestFitness.ToString("F4", CultureInfo.InvariantCulture)}) into {finalModel}");
            TorchSharp.torch.set_num_threads(Environment.ProcessorCount);
            new MergeExecutor(search.Models, search.MergeOptions).Run(MergeRecipeParser.ParseFile(bestConfigPath), finalModel);
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

    /// <summary>What the storage path belongs to: the genome (models by content), its task list and how tasks are scored.</summary>
    private static string Identity(Genome.Genome genome, IReadOnlyDictionary<ModelReference, string> fp, IReadOnlyList<SearchTask> tasks, EvolveConfig config)
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

}
