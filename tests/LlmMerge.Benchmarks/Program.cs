using System.Diagnostics;
using System.Globalization;
using LlmMerge.Benchmarks;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Execution;
using LlmMerge.Modeling.Sources;
using LlmMerge.Modeling.Torch;

// Usage (from the repository root):
//   dotnet run -c Release --project tests/LlmMerge.Benchmarks -- generate DIR [tiny]
//   dotnet run -c Release --project tests/LlmMerge.Benchmarks -- ties DIR
//   dotnet run -c Release --project tests/LlmMerge.Benchmarks -- forward DIR [ROUNDS] [THREADS]
// `ties` runs each contender in its own process (so peak memory is its own) and prints a table.
string verb = args.ElementAtOrDefault(0) ?? "help";
switch (verb)
{
    case "generate":
    {
        string dir = args[1];
        bool tiny = args.ElementAtOrDefault(2) == "tiny";
        var shape = tiny
            ? new CheckpointGenerator.Shape(Hidden: 64, Intermediate: 176, Layers: 2, Vocab: 256, KvHeads: 2, Heads: 4)
            : new CheckpointGenerator.Shape(Hidden: 1024, Intermediate: 2816, Layers: 8, Vocab: 32000, KvHeads: 4, Heads: 16);
        long modelBytes = CheckpointGenerator.Tensors(shape).Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b) * 2);
        long shard = modelBytes * 6 / 10; // two shards each, as the benchmark asks
        string[] names = tiny ? ["base", "expert-a", "expert-b"] : ["base", "expert-1", "expert-2", "expert-3"];
        for (int i = 0; i < names.Length; i++)
        {
            CheckpointGenerator.Write(Path.Combine(dir, names[i]), shape, i, tiny ? long.MaxValue : shard);
            Console.Error.WriteLine($"wrote {names[i]}");
        }
        if (!tiny)
        {
            File.WriteAllText(Path.Combine(dir, "ties.yml"), """
                merge_method: ties
                base_model: base
                dtype: float32
                out_dtype: bfloat16
                parameters:
                  density: 0.5
                  normalize: true
                models:
                  - model: expert-1
                    parameters: {weight: 1.0}
                  - model: expert-2
                    parameters: {weight: 0.8}
                  - model: expert-3
                    parameters: {weight: 0.6}
                """);
        }
        return 0;
    }
    case "ties":
    {
        string dir = Path.GetFullPath(args[1]);
        string self = Environment.ProcessPath!;
        var rows = new List<(string Name, double Seconds, double PeakGb)>();
        foreach (var mode in new[] { "floor", "ours", "mergekit-style" })
        {
            var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true };
            foreach (var a in Environment.GetCommandLineArgs().Skip(1).Take(0))
                psi.ArgumentList.Add(a);
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
                psi.ArgumentList.Add(typeof(CheckpointGenerator).Assembly.Location);
            psi.ArgumentList.Add("run-one");
            psi.ArgumentList.Add(mode);
            psi.ArgumentList.Add(dir);
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                Console.Error.WriteLine($"{mode} failed:\n{output}");
                return 1;
            }
            var parts = output.Trim().Split('\n')[^1].Split('\t');
            rows.Add((mode, double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture)));
        }
        double inputGb = Directory.GetFiles(dir, "*.safetensors", SearchOption.AllDirectories).Where(f => !f.Contains("/out-", StringComparison.Ordinal)).Sum(f => new FileInfo(f).Length) / 1e9;
        Console.WriteLine($"TIES density 0.5, base + 3 experts, {inputGb:F2} GB of bf16 input, {Environment.ProcessorCount} cores");
        Console.WriteLine("| contender | seconds | input GB/s | peak RSS (GB) | time vs ours |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        double ours = rows.First(r => r.Name == "ours").Seconds;
        foreach (var r in rows)
            Console.WriteLine($"| {r.Name} | {r.Seconds:F2} | {inputGb / r.Seconds:F2} | {r.PeakGb:F2} | {r.Seconds / ours:F2}x |");
        return 0;
    }
    case "forward":
        // Writes DIR/forward-model (about 56M parameters) on first use; compares against python/forward_baseline.py.
        return ForwardBenchmark.Run(
            Path.GetFullPath(args[1]),
            rounds: args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3,
            threads: args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 2);
    case "kernels":
        // kernels DIR [ROUNDS] [METHOD,...] [TENSOR...]: single-tensor timings of the fused kernels, inputs in memory.
        return KernelBenchmark.Run(Path.GetFullPath(args[1]),
            args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5,
            args.Skip(4).ToList(),
            (args.ElementAtOrDefault(3) ?? "ties,task_arithmetic,linear").Split(','));
    case "run-one":
    {
        string mode = args[1];
        string dir = args[2];
        var clock = Stopwatch.StartNew();
        switch (mode)
        {
            case "floor":
                Baselines.ReadEveryByte(dir);
                break;
            case "ours":
            {
                var recipe = MergeRecipeParser.ParseFile(Path.Combine(dir, "ties.yml"));
                using var models = new ModelResolver([dir]);
                LlmMerge.Engine.Kernels.PhaseClock.Enabled = Environment.GetEnvironmentVariable("LLMMERGE_PHASES") == "1";
                new MergeExecutor(models, new MergeOptions { CopyTokenizer = false }).Run(recipe, Path.Combine(dir, "out-ours"));
                foreach (var (phase, sec) in LlmMerge.Engine.Kernels.PhaseClock.Snapshot())
                    Console.Error.WriteLine($"  {sec,7:F3} s  {phase}");
                break;
            }
            case "reference":
            {
                var recipe = MergeRecipeParser.ParseFile(Path.Combine(dir, "ties.yml"));
                using var models = new ModelResolver([dir]);
                new MergeExecutor(models, new MergeOptions { CopyTokenizer = false, ReferenceKernels = true }).Run(recipe, Path.Combine(dir, "out-reference"));
                break;
            }
            case "mergekit-style":
                TorchRuntime.Initialize();
                Baselines.MergekitStyleTies(dir, Path.Combine(dir, "out-mergekit-style"));
                break;
            default:
                Console.Error.WriteLine($"unknown mode {mode}");
                return 2;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{seconds:F3}\t{Baselines.PeakRssGb():F3}"));
        return 0;
    }
    default:
        Console.Error.WriteLine("usage: generate DIR [tiny] | ties DIR | forward DIR [ROUNDS] [THREADS]");
        return 2;
}
