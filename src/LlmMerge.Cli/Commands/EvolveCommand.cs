using System.CommandLine;
using System.Globalization;
using LlmMerge.Cli.Cluster;
using LlmMerge.Search;

namespace LlmMerge.Cli.Commands;

/// <summary>
/// <c>llmmerge evolve GENOME.yml --storage-path DIR</c>: mergekit-evolve's CMA-ES search over a genome's merge
/// parameters, candidates merged and scored in memory on the genome's tasks (here, or with <c>--cluster</c> on a
/// cluster's workers, a generation at once), every candidate kept in DIR.
/// </summary>
public static class EvolveCommand
{
    public static Command Create()
    {
        var genome = new Argument<string>("genome") { Description = "mergekit-evolve YAML: genome (models, merge_method, ...) and tasks" };
        var storage = new Option<string>("--storage-path") { Description = "folder of the search: candidates.jsonl, best_config.yaml, final_model/ (resumes from it)", Required = true };
        var maxFevals = new Option<int?>("--max-fevals") { Description = "evaluations before CMA-ES stops, checked per generation (default 100)" };
        var sigma0 = new Option<double?>("--sigma0") { Description = "initial CMA-ES step size (default 1/6)" };
        var seed = new Option<ulong?>("--random-seed") { Description = "seed of CMA-ES and of random merge methods (default 0)" };
        var popsize = new Option<int?>("--popsize", "--force-population-size") { Description = "candidates per generation (default 4 + floor(3 ln n))" };
        var searchPath = new Option<string[]>("--task-search-path") { Description = "folder searched for task YAMLs by their task: name (repeatable)", AllowMultipleArgumentsPerToken = false };
        var device = new Option<string>("--device") { Description = "cpu (default), cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var jobs = new Option<int?>("--jobs") { Description = "candidates scored at once, each with its own copy of the model (default: one per core)" };
        var noFinal = new Option<bool>("--no-save-final-model") { Description = "do not merge the best candidate into DIR/final_model" };
        var quiet = new Option<bool>("--quiet") { Description = "no progress on standard error" };
        var cluster = new Option<string?>("--cluster") { Description = "score each generation's candidates in parallel on a cluster of `llmmerge worker`s: localhost[:PORT] or redis://HOST:PORT[/DB]" };
        var clusterId = new Option<string>("--cluster-id") { Description = "Orleans cluster id with --cluster (default llmmerge)", DefaultValueFactory = _ => "llmmerge" };

        var cmd = new Command("evolve", "search a genome's merge parameters with CMA-ES on validation tasks (mergekit-evolve)")
        {
            genome, storage, maxFevals, sigma0, seed, popsize, searchPath, device, jobs, noFinal, quiet, cluster, clusterId,
        };
        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return CliApp.Guard(stderr, () =>
            {
                var taskPaths = parse.GetValue(searchPath) ?? [];
                Func<PreparedSearch, Search.Candidates.ICandidateScorer>? remote = null;
                if (parse.GetValue(cluster) is { } address)
                {
                    var parsed = LlmMerge.Cluster.ClusterAddress.Parse(address);
                    // Workers merge on their own --device unless this command named one.
                    string? jobDevice = parse.GetResult(device) is { Implicit: false } ? parse.GetValue(device) : null;
                    remote = search => ClusterCandidateScorer.Create(parsed, parse.GetValue(clusterId)!, search, taskPaths, jobDevice, parse.GetValue(quiet) ? TextWriter.Null : stderr);
                }
                var result = new EvolveRunner().Run(new EvolveOptions
                {
                    GenomePath = parse.GetValue(genome)!,
                    StoragePath = parse.GetValue(storage)!,
                    MaxFevals = parse.GetValue(maxFevals),
                    Sigma0 = parse.GetValue(sigma0),
                    RandomSeed = parse.GetValue(seed),
                    Popsize = parse.GetValue(popsize),
                    TaskSearchPaths = taskPaths,
                    Device = parse.GetValue(device)!,
                    Jobs = parse.GetValue(jobs),
                    CandidateScorer = remote,
                    SaveFinalModel = !parse.GetValue(noFinal),
                    Progress = parse.GetValue(quiet) ? null : stderr,
                });
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"best fitness {result.BestFitness:F4} after {result.Evaluations} evaluations ({result.Scored} scored, {result.Stored} stored); {result.CandidatesPerMinute:F1} candidates/min; peak RSS {result.PeakBytes / 1e6:F0} MB"));
                stdout.WriteLine(result.BestConfigPath);
                if (result.FinalModelPath is not null) stdout.WriteLine(result.FinalModelPath);
                return 0;
            });
        });
        return cmd;
    }
}
