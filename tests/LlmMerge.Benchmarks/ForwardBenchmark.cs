using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Benchmarks;

/// <summary>
/// Forward-pass throughput and multiple-choice scoring speed of our TorchSharp model against a plain-PyTorch forward
/// pass of the same weights (python/forward_baseline.py), on the same token ids, with the same thread count.
/// </summary>
public static class ForwardBenchmark
{
    /// <summary>About 56M parameters: Llama's layout at a size two cores run in seconds.</summary>
    public static readonly CheckpointGenerator.Shape Shape = new(Hidden: 512, Intermediate: 1408, Layers: 8, Vocab: 32000, KvHeads: 4, Heads: 8);

    // Sized so Debian's torch with its reference BLAS still finishes a round in a few minutes on two busy cores.
    private const int SequenceBatch = 4;
    private const int SequenceLength = 128;
    private const int Repeats = 3;
    private const int Rows = 12;
    private const int ChoicesPerRow = 4;

    private const int GenerationTokens = 16;
    private static readonly int[] BatchSizes = [4, 12];

    private sealed record Measured(double TokensPerSecond, double RowsPerSecond, double NaiveRowsPerSecond, double[][] LogLikelihoods)
    {
        /// <summary>Multiple-choice rows/s with several rows' contexts in one padded batch, by batch size.</summary>
        public Dictionary<int, double> BatchedRowsPerSecond { get; init; } = [];

        /// <summary>Largest difference between a batched and the one-row log-likelihood of a choice.</summary>
        public double BatchedMaxDiff { get; init; }

        /// <summary>Greedy generation, new tokens/s: one prompt at a time, and all prompts in one batch.</summary>
        public double GenerationTokensPerSecond { get; init; }

        public double BatchedGenerationTokensPerSecond { get; init; }

        /// <summary>Whether the batched greedy generations equal the one-at-a-time ones.</summary>
        public bool GenerationsEqual { get; init; }

        public Measured Best(Measured other) => new(Math.Max(TokensPerSecond, other.TokensPerSecond), Math.Max(RowsPerSecond, other.RowsPerSecond),
            Math.Max(NaiveRowsPerSecond, other.NaiveRowsPerSecond), other.LogLikelihoods)
        {
            BatchedRowsPerSecond = BatchedRowsPerSecond.ToDictionary(kv => kv.Key, kv => Math.Max(kv.Value, other.BatchedRowsPerSecond[kv.Key])),
            BatchedMaxDiff = Math.Max(BatchedMaxDiff, other.BatchedMaxDiff),
            GenerationTokensPerSecond = Math.Max(GenerationTokensPerSecond, other.GenerationTokensPerSecond),
            BatchedGenerationTokensPerSecond = Math.Max(BatchedGenerationTokensPerSecond, other.BatchedGenerationTokensPerSecond),
            GenerationsEqual = GenerationsEqual && other.GenerationsEqual,
        };
    }

    public static int Run(string dir, int rounds, int threads)
    {
        Directory.CreateDirectory(dir);
        string modelDir = Path.Combine(dir, "forward-model");
        if (!File.Exists(Path.Combine(modelDir, "config.json")))
        {
            CheckpointGenerator.Write(modelDir, Shape, expert: 0, shardBytes: long.MaxValue);
            Console.Error.WriteLine($"wrote {modelDir}");
        }
        var (sequences, rows) = MakeWorkload(seed: 7);
        string workloadPath = Path.Combine(dir, "forward-workload.json");
        File.WriteAllText(workloadPath, new JsonObject
        {
            ["sequences"] = ToJson(sequences),
            ["repeats"] = Repeats,
            ["rows"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject { ["context"] = ToJson([r.Context]).First()!.DeepClone(), ["choices"] = ToJson(r.Choices) }).ToArray()),
        }.ToJsonString());

        TorchRuntime.Initialize();
        set_num_threads(threads);
        using var model = CausalLmLoader.LoadModel(modelDir);
        long parameters = model.Model.parameters().Sum(p => p.numel());
        // FORWARD_BASELINE=off skips the PyTorch contender (its reference-BLAS run takes minutes on a busy machine).
        string? python = Environment.GetEnvironmentVariable("FORWARD_BASELINE") == "off" ? null : FindPython();
        string load0 = File.ReadAllText("/proc/loadavg").Trim();

        Measured? ours = null;
        JsonObject? baseline = null;
        for (int round = 0; round < rounds; round++)
        {
            var m = MeasureOurs(model, sequences, rows);
            ours = ours is null ? m : ours.Best(m);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round + 1} (load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}): ours {m.TokensPerSecond:F0} tokens/s, {m.RowsPerSecond:F2} rows/s one row at a time, {string.Join(", ", m.BatchedRowsPerSecond.Select(kv => $"{kv.Value:F2} in batches of {kv.Key}"))} (no cache: {m.NaiveRowsPerSecond:F2}); generation {m.GenerationTokensPerSecond:F1} new tokens/s one at a time, {m.BatchedGenerationTokensPerSecond:F1} batched"));
            if (python is null)
                continue;
            var b = RunPython(python, modelDir, workloadPath, threads);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round + 1}: PyTorch {(double)b["tokens_per_s"]!:F0} tokens/s, {(double)b["rows_per_s"]!:F2} rows/s"));
            baseline ??= b;
            // Best of the rounds for each figure, as for ours: other builds share these cores.
            foreach (var key in new[] { "tokens_per_s", "rows_per_s" })
                baseline[key] = Math.Max((double)baseline[key]!, (double)b[key]!);
        }
        string load1 = File.ReadAllText("/proc/loadavg").Trim();

        var o = ours!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Llama-shaped model, {parameters / 1e6:F1}M parameters (hidden {Shape.Hidden}, {Shape.Layers} layers, {Shape.Heads} heads / {Shape.KvHeads} kv heads, vocab {Shape.Vocab}), float32, {threads} threads, best of {rounds} rounds"));
        Console.WriteLine($"forward: {SequenceBatch} x {SequenceLength} tokens, {Repeats} passes, full logits; multiple choice: {Rows} rows x {ChoicesPerRow} choices, contexts {rows.Min(r => r.Context.Length)}-{rows.Max(r => r.Context.Length)} tokens");
        Console.WriteLine($"load average before / after: {load0} / {load1}");
        Console.WriteLine("| contender | forward tokens/s | multiple-choice rows/s |");
        Console.WriteLine("| --- | --- | --- |");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| ours (TorchSharp {typeof(Tensor).Assembly.GetName().Version}, shared-context cache) | {o.TokensPerSecond:F0} | {o.RowsPerSecond:F2} |"));
        foreach (var (size, rate) in o.BatchedRowsPerSecond)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| ours, {size} rows' contexts in one padded batch | | {rate:F2} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| ours, every choice run in full (no cache) | | {o.NaiveRowsPerSecond:F2} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"greedy generation, {Rows} prompts x {GenerationTokens} new tokens: {o.GenerationTokensPerSecond:F1} new tokens/s one prompt at a time, {o.BatchedGenerationTokensPerSecond:F1} in one batch ({o.BatchedGenerationTokensPerSecond / o.GenerationTokensPerSecond:F2}x); batched generations {(o.GenerationsEqual ? "equal" : "DIFFER FROM")} one at a time"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"largest difference between batched and one-row choice log-likelihoods: {o.BatchedMaxDiff:E2}"));
        if (baseline is null)
        {
            Console.WriteLine("| PyTorch | not run (FORWARD_BASELINE=off, or no python3 with torch: set PYTHON) | |");
            return o.BatchedMaxDiff < 1e-3 && o.GenerationsEqual ? 0 : 1;
        }
        double pt = (double)baseline["tokens_per_s"]!, pr = (double)baseline["rows_per_s"]!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| plain PyTorch {baseline["torch"]}, BLAS {baseline["blas"]} (eager, no cache: lm-eval's way) | {pt:F0} | {pr:F2} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| ratio ours / PyTorch | {o.TokensPerSecond / pt:F2}x | {o.RowsPerSecond / pr:F2}x |"));

        var theirs = baseline["logliks"]!.AsArray().Select(r => r!.AsArray().Select(v => (double)v!).ToArray()).ToArray();
        double maxDiff = o.LogLikelihoods.Zip(theirs).SelectMany(p => p.First.Zip(p.Second, (a, b) => Math.Abs(a - b))).Max();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"largest difference between our and PyTorch's choice log-likelihoods: {maxDiff:E2}"));
        return maxDiff < 1e-2 ? 0 : 1;
    }

    private static Measured MeasureOurs(TorchCausalLanguageModel model, int[][] sequences, (int[] Context, int[][] Choices)[] rows)
    {
        using var noGrad = no_grad();
        var flat = sequences.SelectMany(s => s.Select(t => (long)t)).ToArray();
        using (var scope = NewDisposeScope())
        {
            var batch = tensor(flat).view(sequences.Length, -1);
            model.Model.forward(batch.narrow(1, 0, 16)); // warm-up
        }
        var clock = Stopwatch.StartNew();
        for (int r = 0; r < Repeats; r++)
        {
            using var scope = NewDisposeScope();
            model.Model.forward(tensor(flat).view(sequences.Length, -1));
        }
        double tokensPerSecond = flat.Length * (double)Repeats / clock.Elapsed.TotalSeconds;

        var logLikelihoods = new double[rows.Length][];
        clock.Restart();
        for (int i = 0; i < rows.Length; i++)
        {
            var scores = model.ScoreContinuations(rows[i].Context, rows[i].Choices.Select(c => (IReadOnlyList<int>)c).ToList());
            logLikelihoods[i] = scores.Select(s => s.LogLikelihood).ToArray();
        }
        double rowsPerSecond = rows.Length / clock.Elapsed.TotalSeconds;

        // The same rows scored as lm-eval does without a cache, on our model: isolates what the cache buys.
        clock.Restart();
        foreach (var (context, choices) in rows)
        {
            foreach (var choice in choices)
            {
                using var scope = NewDisposeScope();
                var ids = context.Concat(choice).Select(t => (long)t).ToArray();
                var logProbs = model.Model.forward(tensor(ids).view(1, -1)).log_softmax(-1)[0];
                var positions = arange(context.Length - 1, context.Length + choice.Length - 1, ScalarType.Int64);
                _ = logProbs.index_select(0, positions).gather(1, tensor(choice.Select(t => (long)t).ToArray()).unsqueeze(1)).sum().item<float>();
            }
        }
        double naiveRowsPerSecond = rows.Length / clock.Elapsed.TotalSeconds;

        // The same rows with several contexts in one right-padded batch, their choices against the cached contexts.
        var requests = rows.Select(r => new ScoringRequest(r.Context, r.Choices.Select(c => (IReadOnlyList<int>)c).ToList())).ToList();
        var batched = new Dictionary<int, double>();
        double maxDiff = 0;
        foreach (int size in BatchSizes)
        {
            clock.Restart();
            var scores = requests.Chunk(size).SelectMany(chunk => model.ScoreBatch(chunk)).ToList();
            batched[size] = rows.Length / clock.Elapsed.TotalSeconds;
            for (int i = 0; i < rows.Length; i++)
                maxDiff = Math.Max(maxDiff, scores[i].Zip(logLikelihoods[i], (a, b) => Math.Abs(a.LogLikelihood - b)).Max());
        }

        // Greedy generation from each row's context: one prompt at a time, then all in one batch.
        var none = new HashSet<int>();
        clock.Restart();
        var alone = rows.Select(r => model.GenerateGreedy(r.Context, GenerationTokens, none)).ToList();
        double generation = alone.Sum(g => g.Count) / clock.Elapsed.TotalSeconds;
        clock.Restart();
        var together = model.Generate(rows.Select(r => new GenerationRequest(r.Context, GenerationTokens, none)).ToList());
        double batchedGeneration = together.Sum(g => g.Count) / clock.Elapsed.TotalSeconds;
        bool equal = alone.Zip(together).All(p => p.First.SequenceEqual(p.Second));
        return new Measured(tokensPerSecond, rowsPerSecond, naiveRowsPerSecond, logLikelihoods)
        {
            BatchedRowsPerSecond = batched,
            BatchedMaxDiff = maxDiff,
            GenerationTokensPerSecond = generation,
            BatchedGenerationTokensPerSecond = batchedGeneration,
            GenerationsEqual = equal,
        };
    }

    private static (int[][] Sequences, (int[] Context, int[][] Choices)[] Rows) MakeWorkload(int seed)
    {
        var rng = new Random(seed);
        int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(1, Shape.Vocab)).ToArray();
        var sequences = Enumerable.Range(0, SequenceBatch).Select(_ => Tokens(SequenceLength)).ToArray();
        // Shaped like cosmos_qa under a Llama tokenizer: a paragraph and question, four answers of a sentence each.
        var rows = Enumerable.Range(0, Rows)
            .Select(_ => (Tokens(rng.Next(120, 201)), Enumerable.Range(0, ChoicesPerRow).Select(_ => Tokens(rng.Next(4, 25))).ToArray()))
            .ToArray();
        return (sequences, rows);
    }

    private static JsonArray ToJson(int[][] rows) => new(rows.Select(r => (JsonNode)new JsonArray(r.Select(t => (JsonNode)t).ToArray())).ToArray());

    private static JsonObject RunPython(string python, string modelDir, string workloadPath, int threads)
    {
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(ScriptPath());
        psi.ArgumentList.Add(modelDir);
        psi.ArgumentList.Add(workloadPath);
        psi.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
        psi.Environment["OMP_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        psi.Environment["OPENBLAS_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        // Debian's torch calls whatever libblas.so.3 the system selects (netlib's reference BLAS by default);
        // this points the baseline alone at another one, e.g. an unpacked libopenblas0-pthread.
        if (Environment.GetEnvironmentVariable("FORWARD_BASELINE_LIBRARY_PATH") is { Length: > 0 } libs)
            psi.Environment["LD_LIBRARY_PATH"] = libs;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{python} forward_baseline.py failed ({p.ExitCode}): {stderr.Result}");
        return (JsonObject)JsonNode.Parse(output.Trim().Split('\n')[^1])!;
    }

    // Copied beside the executable by the project (source paths are mapped away in the build).
    private static string ScriptPath() => Path.Combine(AppContext.BaseDirectory, "python", "forward_baseline.py");

    // Debian's python3-torch lives under /usr/bin/python3; a pyenv or venv python3 earlier on PATH may lack it.
    internal static string? FindPython()
    {
        var candidates = new[] { Environment.GetEnvironmentVariable("PYTHON"), "/usr/bin/python3", "python3" }.Where(c => !string.IsNullOrEmpty(c));
        foreach (var c in candidates)
        {
            try
            {
                var psi = new ProcessStartInfo(c!, ["-c", "import torch"]) { RedirectStandardError = true, RedirectStandardOutput = true };
                using var p = Process.Start(psi)!;
                p.WaitForExit();
                if (p.ExitCode == 0)
                    return c;
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }
        return null;
    }
}
