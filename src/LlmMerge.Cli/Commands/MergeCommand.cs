using System.CommandLine;
using System.Diagnostics;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Execution;
using LlmMerge.Modeling.Sources;

namespace LlmMerge.Cli.Commands;

/// <summary><c>llmmerge merge CONFIG.yml OUT_DIR</c>: runs a mergekit recipe into a Hugging Face model folder.</summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var config = new Argument<string>("config") { Description = "mergekit YAML recipe" };
        var outDir = new Argument<string>("out-dir") { Description = "output model folder (replaced only when the merge completes)" };
        var shard = new Option<string>("--out-shard-size") { Description = "largest output shard, e.g. 5B, 500M (mergekit's default: 5B)", DefaultValueFactory = _ => "5B" };
        var device = new Option<string>("--device") { Description = "cpu (default), cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var seed = new Option<ulong>("--random-seed") { Description = "seed for random methods such as DARE (default 0)" };
        var noTokenizer = new Option<bool>("--no-copy-tokenizer") { Description = "do not copy the tokenizer files" };
        var quiet = new Option<bool>("--quiet") { Description = "no progress on standard error" };
        var calibrationCache = new Option<string?>("--calibration-cache")
        {
            Description = "folder of calibration statistics kept between merges (regmean, regmean_plusplus, fisher); default $LLMMERGE_CALIBRATION_CACHE, else ~/.cache/llmmerge/calibration",
        };

        var cmd = new Command("merge", "merge models as a mergekit YAML recipe says") { config, outDir, shard, device, seed, noTokenizer, quiet, calibrationCache };
        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return CliApp.Guard(stderr, () =>
            {
                string recipePath = parse.GetValue(config)!;
                var recipe = MergeRecipeParser.ParseFile(recipePath);
                var options = new MergeOptions
                {
                    OutShardBytes = ShardedModelWriter.ParseShardSize(parse.GetValue(shard)!),
                    Device = parse.GetValue(device)!,
                    RandomSeed = parse.GetValue(seed),
                    CopyTokenizer = !parse.GetValue(noTokenizer),
                    CalibrationCache = parse.GetValue(calibrationCache) ?? DefaultCalibrationCache(),
                };
                string recipeDir = Path.GetDirectoryName(Path.GetFullPath(recipePath))!;
                recipe = WithCalibrationPaths(recipe, recipeDir);
                using var models = new ModelResolver([Directory.GetCurrentDirectory(), recipeDir]);
                var clock = Stopwatch.StartNew();
                var progress = parse.GetValue(quiet) ? null : new ProgressPrinter(stderr, !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error));
                Action<string>? info = parse.GetValue(quiet) ? null : line => stderr.WriteLine($"llmmerge: {line}");
                var plan = new MergeExecutor(models, options).Run(recipe, parse.GetValue(outDir)!, progress, w => stderr.WriteLine($"llmmerge: warning: {w}"), info);
                stdout.WriteLine($"merged {plan.Tensors.Count} tensors ({plan.InputBytes / 1e9:F2} GB read, {plan.OutputBytes / 1e9:F2} GB written) with {plan.Method.Name} in {clock.Elapsed.TotalSeconds:F1} s");
                stdout.WriteLine(Path.GetFullPath(parse.GetValue(outDir)!));
                return 0;
            });
        });
        return cmd;
    }

    /// <summary>Calibration task files are found as models are: from the working folder, else beside the recipe.</summary>
    private static MergeRecipe WithCalibrationPaths(MergeRecipe recipe, string recipeDir)
    {
        if (recipe.Calibration is not { } c)
            return recipe;
        string Find(string file) => Path.IsPathRooted(file) || File.Exists(file) || !File.Exists(Path.Combine(recipeDir, file)) ? file : Path.Combine(recipeDir, file);
        return recipe with
        {
            Calibration = c with
            {
                Tasks = c.Tasks.Select(Find).ToList(),
                PerModelTasks = c.PerModelTasks.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value.Select(Find).ToList()),
            },
        };
    }

    private static string DefaultCalibrationCache() =>
        Environment.GetEnvironmentVariable("LLMMERGE_CALIBRATION_CACHE") is { Length: > 0 } env ? env
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "llmmerge", "calibration");
}
