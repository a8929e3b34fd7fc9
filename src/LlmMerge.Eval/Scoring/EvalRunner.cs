using System.Diagnostics;
using LlmMerge.Core;
using LlmMerge.Core.IO;
using LlmMerge.Eval.Routing;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Sources;
using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// Runs an evaluation: loads every task first (so bad input fails before the model loads), then the tokenizer and
/// the model, scores multiple-choice rows and generates for generation rows, and writes RESULTS.json, SAMPLES.jsonl and
/// the submission CSV in file order, each renamed into place only when the run succeeds. A folder with router.json is a
/// routed system: each task's rows are routed first, then scored grouped by the expert each went to.
/// </summary>
public sealed class EvalRunner
{
    private readonly Func<string, ICausalLanguageModel> _loadModel;
    private readonly Func<string, IRoutedSystem> _loadSystem;

    /// <summary>A runner that gets its model from <paramref name="loadModel"/> (given the model folder); tests pass a fake.</summary>
    public EvalRunner(Func<string, ICausalLanguageModel> loadModel)
        : this(loadModel, null)
    {
    }

    /// <summary>
    /// As <see cref="EvalRunner(Func{string, ICausalLanguageModel})"/>; a folder with router.json is opened by
    /// <paramref name="loadSystem"/> (default: <see cref="RoutedSystems.Open"/> with <paramref name="loadModel"/> for its experts).
    /// </summary>
    public EvalRunner(Func<string, ICausalLanguageModel> loadModel, Func<string, IRoutedSystem>? loadSystem)
    {
        _loadModel = loadModel;
        _loadSystem = loadSystem ?? (dir => RoutedSystems.Open(dir, loadModel));
    }

    /// <summary>Evaluates the model in <paramref name="modelDir"/> as <paramref name="options"/> say; progress after each row.</summary>
    public EvalReport Run(string modelDir, EvalOptions options, IProgress<EvalProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var wall = Stopwatch.StartNew();
        if (options.Tasks.Count == 0) throw new LlmMergeException("no tasks given; pass --tasks FILE[,FILE...].");
        if (options.Limit is <= 0) throw new LlmMergeException($"--limit must be at least 1 (got {options.Limit}).");

        var tasks = options.Tasks.Select(t => TaskLoader.Load(t, options.NumFewshot)).ToList();
        foreach (var dup in tasks.GroupBy(t => t.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
            throw new LlmMergeException($"two tasks are named '{dup.Key}' ({string.Join(", ", dup.Select(t => t.SourcePath))}); results are keyed by name.");

        if (!Directory.Exists(modelDir))
            throw new LlmMergeException($"{modelDir}: model folder not found.");
        HfTokenizer tokenizer = HfTokenizer.FromFolder(TokenizerFolder(modelDir));

        using AtomicFile? samples = options.SamplesPath is null ? null : new AtomicFile(options.SamplesPath);
        var submission = new List<(string Id, string Prediction)>();
        var results = new List<TaskResult>();
        long tokens = 0;
        var scoring = new Stopwatch();
        // A folder with router.json is a routed system: each row is scored by the expert it routes to.
        bool routed = RouterManifest.IsRouterFolder(modelDir);
        using (IRoutedSystem? system = routed ? _loadSystem(modelDir) : null)
        using (ICausalLanguageModel? model = routed ? null : _loadModel(modelDir))
        {
            // Every task is routed before any row is scored, so a task the router cannot route stops the run first.
            var assignments = tasks.Select(task =>
            {
                var rows = options.Limit is int limit ? task.Rows.Take(limit).ToList() : task.Rows.ToList();
                return (Task: task, Rows: rows, Models: RowModels.For(model, system, task, rows));
            }).ToList();
            scoring.Start();
            foreach (var (task, rows, models) in assignments)
            {
                var clock = Stopwatch.StartNew();
                var scored = new ChoiceScores?[rows.Count];
                var generated = new (string Text, long Tokens)[rows.Count];
                int done = 0;
                foreach (int i in models.Order(rows.Count))
                {
                    EvalRow row = rows[i];
                    ICausalLanguageModel m = models.Model(i);
                    if (row.Kind == RowKind.MultipleChoice)
                        scored[i] = new MultipleChoiceScorer(m, tokenizer, options.Scoring).Score(row, task.TargetDelimiter);
                    else
                        generated[i] = new GreedyGenerator(m, tokenizer, options.Scoring, options.MaxGenLen).Generate(row);
                    progress?.Report(new EvalProgress(task.Name, ++done, rows.Count, clock.Elapsed));
                }

                int labeled = 0, correct = 0, correctNorm = 0, mc = 0, gen = 0;
                double guess = 0;
                for (int i = 0; i < rows.Count; i++)
                {
                    EvalRow row = rows[i];
                    if (scored[i] is { } s)
                    {
                        tokens += s.Tokens;
                        mc++;
                        guess += 1.0 / row.Choices.Count;
                        if (row.Target is int target)
                        {
                            labeled++;
                            if (s.Prediction == target) correct++;
                            if (s.PredictionNorm == target) correctNorm++;
                        }

                        samples?.Writer.WriteLine(ResultsJson.Sample(task.Name, row, s, models.Expert(i)));
                        submission.Add((row.Id, s.Prediction.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                    }
                    else
                    {
                        var (text, used) = generated[i];
                        tokens += used;
                        gen++;
                        submission.Add((row.Id, text));
                    }
                }

                var metrics = new Dictionary<string, double?>(StringComparer.Ordinal);
                foreach (string m in task.Metrics)
                {
                    int hits = m == MetricNames.Acc ? correct : correctNorm;
                    metrics[m] = labeled > 0 ? (double)hits / labeled : null;
                }

                results.Add(new TaskResult(task.Name, Path.GetFullPath(task.SourcePath), rows.Count, mc, gen, labeled, task.NumFewshot, mc > 0 ? guess / mc : null, metrics)
                {
                    RoutedRows = models.Counts,
                });
            }

            scoring.Stop();
        }

        var average = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string metric in new[] { MetricNames.Acc, MetricNames.AccNorm })
        {
            var values = results.Select(r => r.Metrics.GetValueOrDefault(metric)).OfType<double>().ToList();
            if (values.Count > 0) average[metric] = values.Average();
        }

        if (options.SubmissionPath is string submissionPath)
        {
            var text = new System.Text.StringBuilder("id,prediction\n");
            foreach (var (id, prediction) in submission)
                text.Append(CsvFile.Quote(id)).Append(',').Append(CsvFile.Quote(prediction)).Append('\n');
            AtomicFile.WriteAllText(submissionPath, text.ToString());
        }

        samples?.Commit();
        var report = new EvalReport(Path.GetFullPath(modelDir), options.Scoring, options.Device, options.Limit, results, average,
            wall.Elapsed.TotalSeconds, scoring.Elapsed.TotalSeconds, tokens, PeakMemory.Bytes());
        AtomicFile.WriteAllText(options.OutputPath, ResultsJson.Results(report));
        return report;
    }

    /// <summary>Where the tokenizer of <paramref name="modelDir"/> lives: the folder itself, or a LoRA adapter's base (PEFT saves no tokenizer with an adapter unless asked).</summary>
    private static string TokenizerFolder(string modelDir)
    {
        if (!LlmMerge.Core.Models.LoraAdapter.IsAdapterFolder(modelDir)
            || File.Exists(Path.Combine(modelDir, "tokenizer.json")) || File.Exists(Path.Combine(modelDir, "tokenizer.model")))
            return modelDir;
        using var resolver = new LlmMerge.Modeling.Sources.ModelResolver([Directory.GetCurrentDirectory()]);
        return resolver.Source(new LlmMerge.Core.Recipes.ModelReference(modelDir)).Directory;
    }
}
