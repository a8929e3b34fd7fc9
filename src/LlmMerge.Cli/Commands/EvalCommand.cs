using System.CommandLine;
using LlmMerge.Core;
using LlmMerge.Eval.Routing;
using LlmMerge.Eval.Scoring;
using LlmMerge.Modeling;

namespace LlmMerge.Cli.Commands;

/// <summary><c>llmmerge eval MODEL_DIR --tasks T[,T...] --output RESULTS.json</c>: scores a model on competition CSVs and lm-eval task YAMLs.</summary>
public static class EvalCommand
{
    /// <summary>
    /// Loads the model (folder, device, dtype). Tests set it to a fake so the verb runs end to end without libtorch;
    /// null means <see cref="CausalLmLoader.Load"/>.
    /// </summary>
    internal static Func<string, string, string, ICausalLanguageModel>? ModelFactory { get; set; }

    /// <summary>Builds the <c>eval</c> verb.</summary>
    public static Command Create()
    {
        var modelDir = new Argument<string>("model-dir") { Description = "Hugging Face model folder (config, weights, tokenizer), or a router folder from llmmerge route" };
        var tasks = new Option<string>("--tasks") { Description = "task files, comma separated: competition CSVs or lm-eval task YAMLs", Required = true };
        var output = new Option<string>("--output") { Description = "RESULTS.json to write", Required = true };
        var samples = new Option<string?>("--log-samples") { Description = "SAMPLES.jsonl to write: one line per scored row" };
        var limit = new Option<int?>("--limit") { Description = "score only the first N rows of each task" };
        var submission = new Option<string?>("--submission") { Description = "competition submission CSV (id,prediction) to write" };
        var scoring = new Option<string>("--scoring") { Description = "multiple-choice scoring: lm-eval (default) or starter-kit", DefaultValueFactory = _ => "lm-eval" };
        scoring.AcceptOnlyFromAmong("lm-eval", "starter-kit");
        var device = new Option<string>("--device") { Description = "cpu (default), cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var dtype = new Option<string>("--dtype") { Description = "compute dtype: float32 (default), bfloat16 or float16", DefaultValueFactory = _ => "float32" };
        var fewshot = new Option<int?>("--num-fewshot") { Description = "few-shot examples for task YAMLs (overrides num_fewshot)" };
        var maxGen = new Option<int>("--max-gen-len") { Description = $"most new tokens per competition-CSV generation row (starter kit: {GenerationScorer.DefaultMaxGenLen})", DefaultValueFactory = _ => GenerationScorer.DefaultMaxGenLen };
        var chatTemplate = new Option<string?>("--apply-chat-template")
        {
            Description = "render each prompt with the tokenizer's chat template, or the named one (a tokenizer template name, a template file, or chatml, llama3, alpaca, mistral, exaone)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var multiturn = new Option<bool>("--fewshot-as-multiturn") { Description = "few-shot examples as earlier chat turns (true by default with --apply-chat-template; false to fold them into one user turn)", Arity = ArgumentArity.ZeroOrOne };
        var system = new Option<string?>("--system-instruction") { Description = "system instruction put before each task's description" };
        var batchSize = new Option<int>("--batch-size") { Description = $"rows per model call, their contexts in one padded batch (default {EvalOptions.DefaultBatchSize}; 1 scores one row at a time)", DefaultValueFactory = _ => EvalOptions.DefaultBatchSize };
        var seed = new Option<ulong>("--seed") { Description = "seed of sampled generations (lm-eval's torch seed default, 1234)", DefaultValueFactory = _ => 1234UL };
        var quiet = new Option<bool>("--quiet") { Description = "no progress on standard error" };

        var cmd = new Command("eval", "evaluate a model on multiple-choice and generation tasks")
        {
            modelDir, tasks, output, samples, limit, submission, scoring, device, dtype, fewshot, maxGen, chatTemplate, multiturn, system, batchSize, seed, quiet,
        };
        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return CliApp.Guard(stderr, () =>
            {
                if (parse.GetValue(fewshot) is < 0)
                    throw new LlmMergeException("--num-fewshot must be 0 or more.");
                if (parse.GetValue(maxGen) < 1)
                    throw new LlmMergeException("--max-gen-len must be at least 1.");
                if (parse.GetValue(batchSize) < 1)
                    throw new LlmMergeException("--batch-size must be at least 1.");
                var options = new EvalOptions
                {
                    Tasks = parse.GetValue(tasks)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                    OutputPath = parse.GetValue(output)!,
                    SamplesPath = parse.GetValue(samples),
                    SubmissionPath = parse.GetValue(submission),
                    Limit = parse.GetValue(limit),
                    Scoring = parse.GetValue(scoring) == "starter-kit" ? ScoringMode.StarterKit : ScoringMode.LmEval,
                    NumFewshot = parse.GetValue(fewshot),
                    MaxGenLen = parse.GetValue(maxGen),
                    Device = parse.GetValue(device)!,
                    ChatTemplate = parse.GetResult(chatTemplate) is { Implicit: false } ? parse.GetValue(chatTemplate) ?? "" : null,
                    FewshotAsMultiturn = parse.GetResult(multiturn) is { Implicit: false } ? parse.GetValue(multiturn) : null,
                    SystemInstruction = parse.GetValue(system),
                    BatchSize = parse.GetValue(batchSize),
                    Seed = parse.GetValue(seed),
                };
                string dev = options.Device, dt = parse.GetValue(dtype)!;
                var load = ModelFactory ?? ((dir, d, t) => CausalLmLoader.Load(dir, d, t));
                // A router folder's experts load through the same loader; its base (query routing) and an Arrow system run on the same device.
                var runner = new EvalRunner(dir => load(dir, dev, dt), dir => RoutedSystems.Open(dir, d => load(d, dev, dt), dev, dt));
                var progress = parse.GetValue(quiet) ? null : new EvalProgressPrinter(stderr, !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error));
                EvalReport report = runner.Run(parse.GetValue(modelDir)!, options, progress);

                foreach (var t in report.Tasks)
                {
                    string metrics = string.Join(", ", t.Metrics.Select(m => $"{m.Key} {(m.Value is double v ? v.ToString("F4", System.Globalization.CultureInfo.InvariantCulture) : "n/a")}"));
                    string routed = t.RoutedRows is { } r ? $" (routed: {string.Join(", ", r.Select(kv => $"{kv.Key} {kv.Value}"))})" : "";
                    stdout.WriteLine($"{t.Name}: {t.Rows} rows{(metrics.Length > 0 ? ", " + metrics : "")}{routed}");
                }

                if (report.Average.Count > 0)
                    stdout.WriteLine("average: " + string.Join(", ", report.Average.Select(m => $"{m.Key} {m.Value.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)}")));
                stdout.WriteLine($"{report.Rows} rows, {report.Tokens} tokens in {report.ScoringSeconds:F1} s ({report.RowsPerSecond:F1} rows/s, {report.TokensPerSecond:F0} tokens/s, batch {report.BatchSize}), peak RSS {report.PeakRssBytes / 1e9:F2} GB");
                stdout.WriteLine(Path.GetFullPath(options.OutputPath));
                return 0;
            });
        });
        return cmd;
    }
}
