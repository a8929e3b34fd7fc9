using System.Diagnostics;
using System.Globalization;
using LlmMerge.Benchmarks;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Execution;
using LlmMerge.Modeling.Sources;
using LlmMerge.Modeling.Torch;

// Usage (after dotnet build -c Release tests/LlmMerge.Benchmarks; B=tests/LlmMerge.Benchmarks/bin/Release/net10.0/LlmMerge.Benchmarks):
//   $B generate DIR [tiny | 7b [LAYERS]]     base + 3 experts in bf16 and one recipe per fused method
//   $B bench DIR [--methods m,...] [--contenders floor,ours,reference,mergekit,python] [--runs N] [--slow-runs N]
//   $B ties DIR                              bench with --methods ties (the table the README first had)
//   $B kernels DIR [ROUNDS] [METHOD,...] [TENSOR...]
//   $B forward DIR [ROUNDS] [THREADS]
//   $B svd [ROUNDS]                          SVD timings per tensor shape (the subspace methods' cost)
//   $B methods DIR [METHOD,...] [ROWS]       every method beyond mergekit on DIR's models, time and peak memory
// bench runs each contender in its own process (so peak memory is its own) and prints a table.
string verb = args.ElementAtOrDefault(0) ?? "help";
switch (verb)
{
    case "generate":
    {
        string dir = args[1];
        string kind = args.ElementAtOrDefault(2) ?? "small";
        bool tiny = kind == "tiny";
        CheckpointGenerator.Shape shape;
        if (tiny)
        {
            shape = new CheckpointGenerator.Shape(Hidden: 64, Intermediate: 176, Layers: 2, Vocab: 256, KvHeads: 2, Heads: 4);
        }
        else if (kind == "7b")
        {
            // As many layers as fit in about 24 GB of page cache, or what the machine has free now if less.
            long available = AvailableMemoryBytes();
            int layers = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture)
                : CheckpointGenerator.SevenBLayersFitting(Math.Min(24_000_000_000L, available * 3 / 4));
            shape = CheckpointGenerator.SevenB(layers);
            Console.Error.WriteLine($"7B-shaped: {layers} layers, {4 * CheckpointGenerator.ModelBytes(shape) / 1e9:F1} GB of input; {available / 1e9:F1} GB of memory available now");
        }
        else
        {
            shape = CheckpointGenerator.Small;
        }
        long shard = CheckpointGenerator.ModelBytes(shape) * 6 / 10; // two shards each, as the benchmark asks
        string[] names = tiny ? ["base", "expert-a", "expert-b"] : ["base", .. BenchmarkRecipes.Experts];
        for (int i = 0; i < names.Length; i++)
        {
            CheckpointGenerator.Write(Path.Combine(dir, names[i]), shape, i, tiny ? long.MaxValue : shard);
            Console.Error.WriteLine($"wrote {names[i]}");
        }
        if (!tiny)
            BenchmarkRecipes.WriteAll(dir);
        return 0;
    }
    case "bench":
    case "ties":
    {
        string dir = Path.GetFullPath(args[1]);
        string? Flag(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        var methods = verb == "ties" ? ["ties"] : (Flag("--methods")?.Split(',') ?? BenchmarkRecipes.Methods);
        var contenders = Flag("--contenders")?.Split(',') ?? (verb == "ties" ? ["floor", "ours", "mergekit"] : MergeBenchmark.AllContenders);
        int runs = int.Parse(Flag("--runs") ?? "3", CultureInfo.InvariantCulture);
        int slowRuns = int.Parse(Flag("--slow-runs") ?? "1", CultureInfo.InvariantCulture);
        if (!File.Exists(Path.Combine(dir, "task_arithmetic.yml")))
            BenchmarkRecipes.WriteAll(dir); // a set generated before every method had a recipe
        return MergeBenchmark.Run(new MergeBenchmark.Options(dir, methods, contenders, runs, slowRuns));
    }
    case "forward":
        // Writes DIR/forward-model (about 56M parameters) on first use; compares against python/forward_baseline.py.
        return ForwardBenchmark.Run(
            Path.GetFullPath(args[1]),
            rounds: args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3,
            threads: args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 2);
    case "methods":
    {
        string dir = Path.GetFullPath(args[1]);
        var methods = args.Length > 2 ? args[2].Split(',') : MethodsBenchmark.Methods;
        int rows = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 64;
        string self = Environment.ProcessPath!;
        return MethodsBenchmark.Run(dir, methods, rows, (recipe, cache) =>
        {
            var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
                psi.ArgumentList.Add(typeof(CheckpointGenerator).Assembly.Location);
            foreach (var a in new[] { "run-one", "recipe", dir, recipe, cache })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                Console.Error.WriteLine($"{recipe} failed:\n{output}");
                return null;
            }
            var parts = output.Trim().Split('\n')[^1].Split('\t');
            return (double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture));
        });
    }
    case "svd":
        return SvdBenchmark.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3);
    case "kernels":
        // kernels DIR [ROUNDS] [METHOD,...] [TENSOR...]: single-tensor timings of the fused kernels, inputs in memory.
        return KernelBenchmark.Run(Path.GetFullPath(args[1]),
            args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5,
            args.Skip(4).ToList(),
            (args.ElementAtOrDefault(3) ?? "ties,task_arithmetic,linear").Split(','));
    case "run-one":
    {
        // run-one MODE METHOD DIR: prints wall seconds, peak RSS (GB) and CPU seconds, tab-separated, as its last line.
        string mode = args[1];
        string method = args[2];
        string dir = args[3];
        var clock = Stopwatch.StartNew();
        var cpu0 = Environment.CpuUsage.TotalTime;
        switch (mode)
        {
            case "floor":
                Baselines.ReadEveryByte(dir, BenchmarkRecipes.Models(method));
                break;
            case "ours":
            case "reference":
            {
                var recipe = MergeRecipeParser.ParseFile(Path.Combine(dir, method + ".yml"));
                using var models = new ModelResolver([dir]);
                LlmMerge.Engine.Kernels.PhaseClock.Enabled = Environment.GetEnvironmentVariable("LLMMERGE_PHASES") == "1";
                new MergeExecutor(models, new MergeOptions { CopyTokenizer = false, ReferenceKernels = mode == "reference" })
                    .Run(recipe, Path.Combine(dir, $"out-{mode}-{method}"));
                foreach (var (phase, sec, cpu) in LlmMerge.Engine.Kernels.PhaseClock.Snapshot())
                    Console.Error.WriteLine($"  {sec,7:F3} s wall {cpu,7:F3} s CPU  {phase}");
                break;
            }
            case "recipe":
            {
                // run-one recipe DIR RECIPE CACHE: one recipe of the methods benchmark, statistics in CACHE.
                var recipe = MergeRecipeParser.ParseFile(args[3]);
                using var models = new ModelResolver([args[2]]);
                string output = Path.Combine(args[2], "out-" + Path.GetFileNameWithoutExtension(args[3]));
                new MergeExecutor(models, new MergeOptions { CopyTokenizer = false, CalibrationCache = args[4] })
                    .Run(recipe, output, info: line => Console.Error.WriteLine(line));
                break;
            }
            case "mergekit":
                TorchRuntime.Initialize();
                Baselines.MergekitStyle(method, dir, Path.Combine(dir, $"out-mergekit-{method}"));
                break;
            default:
                Console.Error.WriteLine($"unknown mode {mode}");
                return 2;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        double cpuSeconds = (Environment.CpuUsage.TotalTime - cpu0).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{seconds:F3}\t{Baselines.PeakRssGb():F3}\t{cpuSeconds:F3}"));
        return 0;
    }
    default:
        Console.Error.WriteLine("usage: generate DIR [tiny | 7b [LAYERS]] | bench DIR [--methods m,...] [--contenders c,...] [--runs N] [--slow-runs N] | ties DIR | kernels DIR [ROUNDS] [METHOD,...] [TENSOR...] | forward DIR [ROUNDS] [THREADS] | svd [ROUNDS] | methods DIR [METHOD,...] [ROWS]");
        return 2;
}

static long AvailableMemoryBytes()
{
    foreach (var line in File.ReadLines("/proc/meminfo"))
    {
        if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
    return 24_000_000_000L;
}
