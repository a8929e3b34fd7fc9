using System.CommandLine;
using System.Diagnostics;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Moe;
using LlmMerge.Eval.Moe;
using LlmMerge.Modeling.Sources;

namespace LlmMerge.Cli.Commands;

/// <summary><c>llmmerge moe CONFIG.yml OUT_DIR</c>: builds a mixture of experts from dense models as a mergekit-moe recipe says.</summary>
public static class MoeCommand
{
    public static Command Create()
    {
        var config = new Argument<string>("config") { Description = "mergekit-moe YAML recipe (plus prompt_tasks: task files whose contexts are positive prompts)" };
        var outDir = new Argument<string>("out-dir") { Description = "output model folder (replaced only when the mixture is complete)" };
        var shard = new Option<string>("--out-shard-size") { Description = "largest output shard, e.g. 5B, 500M (mergekit's default: 5B)", DefaultValueFactory = _ => "5B" };
        var device = new Option<string>("--device") { Description = "where the base computes hidden-state gates: cpu (default), cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var seed = new Option<ulong>("--random-seed") { Description = "seed of random gates and expert noise (default: PyTorch's default seed, as an unseeded mergekit-moe run)", DefaultValueFactory = _ => MoeOptions.TorchDefaultSeed };
        var noTokenizer = new Option<bool>("--no-copy-tokenizer") { Description = "do not copy the base's tokenizer files" };
        var allowSame = new Option<bool>("--i-understand-this-is-not-useful-without-training") { Description = "allow every expert to be the same model (sparse upcycling)" };
        var quiet = new Option<bool>("--quiet") { Description = "no progress on standard error" };

        var cmd = new Command("moe", "build a mixture of experts (Mixtral or Qwen2-MoE) from dense experts, as a mergekit-moe recipe says")
            { config, outDir, shard, device, seed, noTokenizer, allowSame, quiet };
        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return CliApp.Guard(stderr, () =>
            {
                string recipePath = parse.GetValue(config)!;
                if (!File.Exists(recipePath))
                    throw new LlmMerge.Core.LlmMergeException($"{recipePath}: recipe file not found");
                string recipeDir = Path.GetDirectoryName(Path.GetFullPath(recipePath))!;
                // prompt_tasks (ours) become positive_prompts before the engine reads the recipe.
                string text = MoePromptTasks.Expand(File.ReadAllText(recipePath), recipePath, [Directory.GetCurrentDirectory(), recipeDir]);
                var recipe = MoeRecipeParser.Parse(text, recipePath);
                var options = new MoeOptions
                {
                    OutShardBytes = ShardedModelWriter.ParseShardSize(parse.GetValue(shard)!),
                    Device = parse.GetValue(device)!,
                    RandomSeed = parse.GetValue(seed),
                    CopyTokenizer = !parse.GetValue(noTokenizer),
                    AllowAllSame = parse.GetValue(allowSame),
                };
                using var models = new ModelResolver([Directory.GetCurrentDirectory(), recipeDir]);
                var clock = Stopwatch.StartNew();
                var progress = parse.GetValue(quiet) ? null : new ProgressPrinter(stderr, !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error), "moe");
                var result = new MoeBuilder(models, options).Run(recipe, parse.GetValue(outDir)!, progress, w => stderr.WriteLine($"llmmerge: warning: {w}"));
                stdout.WriteLine($"built a {result.Architecture} of {recipe.Experts.Count} experts ({recipe.ExpertsPerToken} per token, gate mode {recipe.GateMode}): {result.Tensors} tensors, "
                    + $"{result.InputBytes / 1e9:F2} GB read, {result.OutputBytes / 1e9:F2} GB written, gates in {result.GateTime.TotalSeconds:F1} s, {clock.Elapsed.TotalSeconds:F1} s in all");
                stdout.WriteLine(Path.GetFullPath(parse.GetValue(outDir)!));
                return 0;
            });
        });
        return cmd;
    }
}
