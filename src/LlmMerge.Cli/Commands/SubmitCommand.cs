using System.CommandLine;
using LlmMerge.Cluster;
using LlmMerge.Cluster.Client;
using LlmMerge.Cluster.Jobs;
using LlmMerge.Core;

namespace LlmMerge.Cli.Commands;

/// <summary>
/// <c>llmmerge submit --cluster C --key K [--output PATH]... -- VERB ARGS...</c>: runs one llmmerge command on the
/// cluster instead of here and waits for it, printing what the verb prints and exiting with its exit code. This is
/// the small client process a merge graph's node runs with <c>-p:LlmMergeCluster</c>, so no Orleans loads in the build.
/// </summary>
public static class SubmitCommand
{
    public static Command Create()
    {
        var cluster = new Option<string>("--cluster") { Description = "localhost[:PORT] or redis://HOST:PORT[/DB]", Required = true };
        var key = new Option<string>("--key") { Description = "the job's fingerprint (a step's, an evaluation's pair keys, a candidate's): submissions with the same key and command run once", Required = true };
        var outputs = new Option<string[]>("--output") { Description = "a file or folder the job writes; a finished job whose outputs are gone runs again" };
        var subject = new Option<string?>("--subject") { Description = "what the job is for, as logs name it" };
        var wait = new Option<double>("--wait") { Description = "seconds to wait for a first worker to join (default 3600)", DefaultValueFactory = _ => 3600 };
        var clusterId = new Option<string>("--cluster-id") { Description = "Orleans cluster id (default llmmerge)", DefaultValueFactory = _ => "llmmerge" };
        var command = new Argument<string[]>("command") { Description = "the llmmerge verb and its arguments, after --", Arity = ArgumentArity.OneOrMore };

        var cmd = new Command("submit", "run one llmmerge command on a cluster of workers and wait for it") { cluster, key, outputs, subject, wait, clusterId, command };
        cmd.SetAction(async (parse, cancel) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                var address = ClusterAddress.Parse(parse.GetValue(cluster)!);
                string[] args = parse.GetValue(command)!;
                if (args[0] is "worker" or "submit")
                    throw new LlmMergeException($"submit: '{args[0]}' is not a job; submit a verb such as merge or eval");
                string cwd = Environment.CurrentDirectory;
                var spec = new JobSpec(JobKeys.GrainKey(parse.GetValue(key)!, args, cwd), args, cwd, ToolIdentity.Current,
                    (parse.GetValue(outputs) ?? []).Select(Path.GetFullPath).ToArray(), parse.GetValue(subject) ?? $"llmmerge {args[0]}");
                await using var connection = await ClusterConnection.Connect(address, stderr, TimeSpan.FromSeconds(parse.GetValue(wait)), parse.GetValue(clusterId)!, cancel);
                return await new JobSubmitter(connection.Client, stdout, stderr).Run(spec, cancel);
            }
            catch (LlmMergeException e)
            {
                stderr.WriteLine($"llmmerge: error: {e.Message.ReplaceLineEndings(" ")}");
                return 1;
            }
        });
        return cmd;
    }
}
