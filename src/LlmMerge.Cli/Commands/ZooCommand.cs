using System.CommandLine;
using LlmMerge.Core;
using LlmMerge.Zoo;

namespace LlmMerge.Cli.Commands;

/// <summary><c>llmmerge zoo</c>: regenerates the zoo of small trained models and its task files from a seed.</summary>
public static class ZooCommand
{
    public static Command Create()
    {
        var models = new Option<string>("--models-dir") { Description = "where the models go (default merges/zoo)", DefaultValueFactory = _ => Path.Combine("merges", "zoo") };
        var tasks = new Option<string>("--tasks-dir") { Description = "where the task files go (default tasks)", DefaultValueFactory = _ => "tasks" };
        var seed = new Option<int>("--seed") { Description = "training seed (default 1234, the committed zoo's)", DefaultValueFactory = _ => 1234 };
        var scale = new Option<double>("--step-scale") { Description = "multiplies every training phase's steps (e.g. 0.01 for a smoke run)", DefaultValueFactory = _ => 1.0 };
        var quiet = new Option<bool>("--quiet") { Description = "no progress on standard error" };
        var cmd = new Command("zoo", "train the zoo: a tokenizer, a base, one expert per skill, LoRA experts, a multi-task model, and their tasks") { models, tasks, seed, scale, quiet };
        cmd.SetAction(parse =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            return CliApp.Guard(stderr, () =>
            {
                var options = new ZooOptions
                {
                    ModelsDir = parse.GetValue(models)!,
                    TasksDir = parse.GetValue(tasks)!,
                    Seed = parse.GetValue(seed),
                    StepScale = parse.GetValue(scale),
                };
                if (options.StepScale <= 0)
                    throw new LlmMergeException($"--step-scale must be positive (got {options.StepScale})");
                bool q = parse.GetValue(quiet);
                ZooGenerator.Run(options, line => { if (!q) stderr.WriteLine(line); });
                parse.InvocationConfiguration.Output.WriteLine(Path.GetFullPath(options.ModelsDir));
                return 0;
            });
        });
        return cmd;
    }
}
