using System.CommandLine;
using LlmMerge.Cli.Commands;
using LlmMerge.Core;

namespace LlmMerge.Cli;

/// <summary>The llmmerge command line; callable in-process so tests see exit codes and messages as a user would.</summary>
public static class CliApp
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("llmmerge: merge, fetch and evaluate language models; reads mergekit recipes");
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(MoeCommand.Create());
        root.Subcommands.Add(MoeRoutingCommand.Create());
        root.Subcommands.Add(FetchCommand.Create());
        root.Subcommands.Add(CacheCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(RouteCommand.Create());
        root.Subcommands.Add(ZooCommand.Create());
        root.Subcommands.Add(EvolveCommand.Create());
        root.Subcommands.Add(ScoreCandidateCommand.Create());
        root.Subcommands.Add(WorkerCommand.Create());
        root.Subcommands.Add(SubmitCommand.Create());
        var config = new InvocationConfiguration { Output = stdout, Error = stderr };
        return root.Parse(args).Invoke(config);
    }

    /// <summary>Runs a verb's body, turning input errors into one line on standard error and a non-zero exit.</summary>
    public static int Guard(TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (LlmMergeException e)
        {
            stderr.WriteLine($"llmmerge: error: {OneLine(e.Message)}");
            return 1;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"llmmerge: error: {OneLine(e.Message)}");
            return 1;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine($"llmmerge: error: {OneLine(e.Message)}");
            return 1;
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
