using System.Diagnostics;
using System.Globalization;
using LlmMerge.Core;
using LlmMerge.Core.IO;
using LlmMerge.Eval.Chat;
using LlmMerge.Eval.Scoring.Metrics;
using LlmMerge.Eval.Routing;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// Runs an evaluation: loads every task, the tokenizer and the chat template, and renders and encodes every row
/// first (so bad input fails before the model loads); then loads the model, scores each task's rows in batches of
/// <see cref="EvalOptions.BatchSize"/> rows sorted by length (multiple-choice contexts together, their choices
/// against the cached contexts; generations decoded together), computes the metrics, and writes RESULTS.json,
/// SAMPLES.jsonl and the submission CSV in file order, each renamed into place only when the run succeeds.
/// A folder with router.json is a routed system: each task's rows are routed first, then scored in batches grouped by the
/// expert each went to.
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

    /// <summary>Evaluates the model in <paramref name="modelDir"/> as <paramref name="options"/> say; progress after each batch.</summary>
    public EvalReport Run(string modelDir, EvalOptions options, IProgress<EvalProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var wall = Stopwatch.StartNew();
        if (options.Tasks.Count == 0) throw new LlmMergeException("no tasks given; pass --tasks FILE[,FILE...].");
        if (options.Limit is <= 0) throw new LlmMergeException($"--limit must be at least 1 (got {options.Limit}).");
        if (options.BatchSize < 1) throw new LlmMergeException($"--batch-size must be at least 1 (got {options.BatchSize}).");

        var tasks = options.Tasks.Select(t => TaskLoader.Load(t, options.NumFewshot)).ToList();
        foreach (var dup in tasks.GroupBy(t => t.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
            throw new LlmMergeException($"two tasks are named '{dup.Key}' ({string.Join(", ", dup.Select(t => t.SourcePath))}); results are keyed by name.");

        if (!Directory.Exists(modelDir))
            throw new LlmMergeException($"{modelDir}: model folder not found.");
        string tokenizerDir = TokenizerFolder(modelDir);
        HfTokenizer tokenizer = HfTokenizer.FromFolder(tokenizerDir);
        ChatTemplate? template = options.ChatTemplate is null ? null : ChatTemplate.Resolve(tokenizer, options.ChatTemplate, tokenizerDir);
        bool multiturn = options.FewshotAsMultiturn ?? template is not null;
        if (multiturn && template is null)
            throw new LlmMergeException("--fewshot-as-multiturn needs --apply-chat-template: few-shot examples become chat turns only in a chat template.");
        var builder = new PromptBuilder(template, multiturn, options.SystemInstruction);
        var choices = new MultipleChoiceScorer(tokenizer, options.Scoring);
        var generations = new GenerationScorer(tokenizer, options.Scoring, options.MaxGenLen, options.Seed, ModelGenerationDefaults.Read(tokenizerDir));

        // Every prompt is rendered and encoded before the model loads: a template that refuses a conversation or a
        // choice that encodes to nothing stops the run here.
        var work = tasks.Select(task =>
        {
            var rows = options.Limit is int limit ? task.Rows.Take(limit).ToList() : task.Rows.ToList();
            // With a chat template the continuation carries no delimiter (lm-eval's construct_requests).
            string delimiter = builder.UsesChatTemplate ? "" : task.TargetDelimiter;
            var encoded = rows.Select(row =>
            {
                string context = builder.Context(row, task);
                return row.Kind == RowKind.MultipleChoice
                    ? (object)choices.Encode(row, context, delimiter)
                    : generations.Encode(row, task, context);
            }).ToList();
            return (Task: task, Rows: rows, Encoded: encoded);
        }).ToList();

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
            var assignments = work.Select(w => (w.Task, w.Rows, w.Encoded, Models: RowModels.For(model, system, w.Task, w.Rows))).ToList();
            scoring.Start();
            foreach (var (task, rows, encoded, models) in assignments)
            {
                var clock = Stopwatch.StartNew();
                int done = 0;
                void Done(int n)
                {
                    done += n;
                    progress?.Report(new EvalProgress(task.Name, done, rows.Count, clock.Elapsed));
                }

                // One batched pass per model: the whole task for a plain model, each expert's rows for a routed system.
                var mc = new Dictionary<int, ChoiceScores>();
                var gen = new Dictionary<int, (PreparedGeneration Prepared, IReadOnlyList<string> Responses)>();
                foreach (var group in models.Groups(rows.Count))
                {
                    ICausalLanguageModel m = models.Model(group[0]);
                    var mine = new HashSet<int>(group);
                    var subset = encoded.Select((e, i) => mine.Contains(i) ? e : null).ToList();
                    foreach (var (i, v) in ScoreChoices(m, choices, subset, options.BatchSize, Done)) mc[i] = v;
                    foreach (var (i, v) in Generate(m, generations, subset, options.BatchSize, Done)) gen[i] = v;
                }

                var metrics = new TaskMetrics(task);
                for (int i = 0; i < rows.Count; i++)
                {
                    EvalRow row = rows[i];
                    if (mc.TryGetValue(i, out ChoiceScores? s))
                    {
                        tokens += s.Tokens;
                        metrics.AddChoice(row, s);
                        samples?.Writer.WriteLine(ResultsJson.Sample(task.Name, row, s, models.Expert(i)));
                        submission.Add((row.Id, s.Prediction.ToString(CultureInfo.InvariantCulture)));
                    }
                    else
                    {
                        var (prepared, responses) = gen[i];
                        var g = Score(task, row, prepared, responses);
                        tokens += g.Tokens;
                        metrics.AddGeneration(row, g);
                        samples?.Writer.WriteLine(ResultsJson.Sample(task.Name, row, prepared, g, models.Expert(i)));
                        submission.Add((row.Id, g.Prediction switch
                        {
                            int index => index.ToString(CultureInfo.InvariantCulture),
                            string text => text,
                            _ => "-1",
                        }));
                    }
                }

                results.Add(metrics.Result(rows.Count) with { RoutedRows = models.Counts });
            }

            scoring.Stop();
        }

        var average = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string metric in results.SelectMany(r => r.Metrics.Keys).Distinct(StringComparer.Ordinal))
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
            wall.Elapsed.TotalSeconds, scoring.Elapsed.TotalSeconds, tokens, PeakMemory.Bytes()) { BatchSize = options.BatchSize, ChatTemplate = template?.Where };
        AtomicFile.WriteAllText(options.OutputPath, ResultsJson.Results(report));
        return report;
    }

    // Multiple-choice rows as MultipleChoiceBatches scores them (the recipe search scores its candidates the same way).
    private static Dictionary<int, ChoiceScores> ScoreChoices(ICausalLanguageModel model, MultipleChoiceScorer scorer, IReadOnlyList<object?> encoded, int batchSize, Action<int> done) =>
        MultipleChoiceBatches.Score(model, scorer, encoded.Select(e => e as EncodedChoices).ToList(), batchSize, done);

    // Generation rows, longest prompt first, each row's repeats beside it in the batch.
    private static Dictionary<int, (PreparedGeneration Prepared, IReadOnlyList<string> Responses)> Generate(
        ICausalLanguageModel model, GenerationScorer scorer, IReadOnlyList<object?> encoded, int batchSize, Action<int> done)
    {
        var rows = encoded.Select((e, i) => (Encoded: e as EncodedPrompt, Index: i)).Where(x => x.Encoded is not null)
            .Select(x => (Prepared: scorer.Fit(x.Encoded!, model.MaxSequenceLength), x.Index))
            .OrderByDescending(x => x.Prepared.PromptTokens)
            .ThenBy(x => x.Index)
            .ToList();
        var outputs = new Dictionary<int, (PreparedGeneration, IReadOnlyList<string>)>();
        foreach (var batch in rows.Chunk(batchSize))
        {
            var requests = batch.SelectMany(b => b.Prepared.Requests).Where(r => r.MaxNewTokens > 0).ToList();
            var generated = requests.Count == 0 ? [] : model.Generate(requests);
            int at = 0;
            foreach (var (prepared, index) in batch)
            {
                var mine = prepared.Requests.Select(r => r.MaxNewTokens > 0 ? generated[at++] : (IReadOnlyList<int>)[]).ToList();
                var texts = scorer.Finish(prepared, mine);
                outputs[index] = (prepared with { Generated = mine }, texts);
            }

            done(batch.Length);
        }

        return outputs;
    }

    // The row's answers (one per filter chain), its prediction and metric values.
    private static GenerationScores Score(EvalTask task, EvalRow row, PreparedGeneration prepared, IReadOnlyList<string> responses)
    {
        long tokens = prepared.PromptTokens + prepared.Generated.Sum(g => (long)g.Count);
        var refs = row.References;
        if (!task.IsGenerateUntil)
        {
            // The competition CSV's generation rows: the text as generated, ROUGE against the reference.
            string text = responses.Count > 0 ? responses[0] : "";
            var m = new Dictionary<string, double>(StringComparer.Ordinal);
            if (refs.Count > 0)
            {
                foreach (var spec in task.MetricSpecs.Where(s => s.Name == MetricNames.Rouge))
                {
                    foreach (string type in spec.RougeTypes ?? RougeTypes)
                        m[type] = refs.Max(r => RougeScore.Compute(type, r, text, spec.UseStemmer).FMeasure);
                }
            }

            return new GenerationScores(responses, [("none", text)], text, m, tokens, prepared.Truncated);
        }

        var filtered = task.Filters.Select(f => (f.Name, AnswerFilters.Apply(f, responses))).ToList();
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        bool labeled = refs.Count > 0;
        foreach (var (chain, answer) in filtered)
        {
            foreach (MetricSpec spec in task.MetricSpecs)
            {
                if (!labeled) break;
                switch (spec.Name)
                {
                    case MetricNames.ExactMatch:
                        metrics[$"{MetricNames.ExactMatch},{chain}"] = ExactMatch.Score(answer, refs, spec);
                        break;
                    case MetricNames.Rouge:
                        foreach (string type in spec.RougeTypes ?? RougeTypes)
                            metrics[$"{type},{chain}"] = refs.Max(r => RougeScore.Compute(type, r, answer, spec.UseStemmer).FMeasure);
                        break;
                    case MetricNames.Acc when row.Target is int target:
                        metrics[$"{MetricNames.Acc},{chain}"] = ChoiceAnswer.Index(answer, row.Choices) == target ? 1 : 0;
                        break;
                }
            }
        }

        if (metrics.TryGetValue($"{MetricNames.Acc},{filtered[0].Name}", out double acc)) metrics[MetricNames.Acc] = acc;
        object? prediction = row.Choices.Count > 0 ? ChoiceAnswer.Index(filtered[0].Item2, row.Choices) : filtered[0].Item2;
        return new GenerationScores(responses, filtered, prediction, metrics, tokens, prepared.Truncated);
    }

    /// <summary>Hugging Face evaluate's rouge_types default.</summary>
    private static readonly string[] RougeTypes = ["rouge1", "rouge2", "rougeL", "rougeLsum"];

    /// <summary>Where the tokenizer of <paramref name="modelDir"/> lives: the folder itself, or a LoRA adapter's base (PEFT saves no tokenizer with an adapter unless asked).</summary>
    private static string TokenizerFolder(string modelDir)
    {
        if (!LlmMerge.Core.Models.LoraAdapter.IsAdapterFolder(modelDir)
            || File.Exists(Path.Combine(modelDir, "tokenizer.json")) || File.Exists(Path.Combine(modelDir, "tokenizer.model")))
            return modelDir;
        using var resolver = new LlmMerge.Modeling.Sources.ModelResolver([Directory.GetCurrentDirectory()]);
        return resolver.Source(new LlmMerge.Core.Recipes.ModelReference(modelDir)).Directory;
    }

    /// <summary>A task's metrics accumulated row by row: means over the rows that have a reference.</summary>
    private sealed class TaskMetrics(EvalTask task)
    {
        private readonly Dictionary<string, (double Sum, int Count)> _sums = new(StringComparer.Ordinal);
        private int _mc, _gen, _labeled;
        private double _guess;

        public void AddChoice(EvalRow row, ChoiceScores s)
        {
            _mc++;
            _guess += 1.0 / row.Choices.Count;
            if (row.Target is not int target) return;
            _labeled++;
            foreach (var spec in task.MetricSpecs)
            {
                switch (spec.Name)
                {
                    case MetricNames.Acc: Add(spec.Name, s.Prediction == target ? 1 : 0); break;
                    case MetricNames.AccNorm: Add(spec.Name, s.PredictionNorm == target ? 1 : 0); break;
                    // lm-eval's exact_match of a multiple-choice row: the gold choice is what greedy decoding would write.
                    case MetricNames.ExactMatch: Add(spec.Name, s.IsGreedy.Count > target && s.IsGreedy[target] ? 1 : 0); break;
                }
            }
        }

        public void AddGeneration(EvalRow row, GenerationScores g)
        {
            _gen++;
            if (g.Metrics.Count > 0) _labeled++;
            foreach (var (k, v) in g.Metrics) Add(k, v);
        }

        private void Add(string key, double value)
        {
            var (sum, count) = _sums.GetValueOrDefault(key);
            _sums[key] = (sum + value, count + 1);
        }

        public TaskResult Result(int rows)
        {
            // The task's declared metrics, null when no row could be scored; then what the rows added (the CSV's ROUGE).
            var keys = new List<string>();
            if (!task.IsGenerateUntil)
            {
                keys.AddRange(task.Metrics);
            }
            else
            {
                if (task.MetricSpecs.Any(s => s.Name == MetricNames.Acc)) keys.Add(MetricNames.Acc);
                foreach (var chain in task.Filters)
                {
                    foreach (var spec in task.MetricSpecs)
                    {
                        if (spec.Name == MetricNames.Rouge) keys.AddRange((spec.RougeTypes ?? RougeTypes).Select(t => $"{t},{chain.Name}"));
                        else keys.Add($"{spec.Name},{chain.Name}");
                    }
                }
            }

            var metrics = new Dictionary<string, double?>(StringComparer.Ordinal);
            foreach (string key in keys.Concat(_sums.Keys.Order(StringComparer.Ordinal)))
            {
                if (!metrics.ContainsKey(key)) metrics[key] = _sums.TryGetValue(key, out var v) ? v.Sum / v.Count : null;
            }

            return new TaskResult(task.Name, Path.GetFullPath(task.SourcePath), rows, _mc, _gen, _labeled, task.NumFewshot, _mc > 0 ? _guess / _mc : null, metrics);
        }
    }
}
