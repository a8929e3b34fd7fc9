using System.CommandLine;
using System.Text.Json;
using LlmMerge.Search;

namespace LlmMerge.Cli.Commands;

/// <summary>
/// <c>llmmerge score-candidate GENOME.yml --genotype X,... --fingerprint FP</c>: one search candidate merged in memory
/// and scored on the genome's tasks, its scores printed as one JSON line. The job a cluster worker runs for
/// <c>llmmerge evolve --cluster</c>; it refuses a candidate whose fingerprint this machine computes differently.
/// </summary>
public static class ScoreCandidateCommand
{
    public static Command Create()
    {
        var genome = new Argument<string>("genome") { Description = "the search's mergekit-evolve YAML" };
        var genotype = new Option<string>("--genotype") { Description = "the candidate's genotype: comma-separated numbers, as CMA-ES asked them", Required = true };
        var fingerprint = new Option<string>("--fingerprint") { Description = "the candidate fingerprint the search computed; must match this machine's", Required = true };
        var seed = new Option<ulong?>("--random-seed") { Description = "the search's seed (random merge methods; default: the genome's, else 0)" };
        var searchPath = new Option<string[]>("--task-search-path") { Description = "folder searched for task YAMLs by name (repeatable)", AllowMultipleArgumentsPerToken = false };
        var device = new Option<string>("--device") { Description = "cpu (default), cuda or cuda:N", DefaultValueFactory = _ => "cpu" };

        var cmd = new Command("score-candidate", "merge one search candidate in memory and print its scores on the genome's tasks (a cluster job of llmmerge evolve)")
        {
            genome, genotype, fingerprint, seed, searchPath, device,
        };
        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return CliApp.Guard(stderr, () =>
            {
                var score = new CandidateScoreRunner().Run(parse.GetValue(genome)!, parse.GetValue(searchPath) ?? [], parse.GetValue(seed), parse.GetValue(device)!,
                    CandidateScoreRunner.ParseGenotype(parse.GetValue(genotype)!), parse.GetValue(fingerprint)!);
                stdout.WriteLine(JsonSerializer.Serialize(score));
                return 0;
            });
        });
        return cmd;
    }
}
