using System.Diagnostics;
using System.Globalization;
using LlmMerge.Core;
using LlmMerge.Search.Candidates;
using LlmMerge.Search.Scoring;

namespace LlmMerge.Search;

/// <summary>
/// <c>llmmerge score-candidate</c>: one candidate of a search merged in memory and scored on the genome's tasks, as
/// the search's own evaluator does; what a cluster worker runs for <c>llmmerge evolve --cluster</c>. The caller sends
/// the genotype and the fingerprint it computed; the candidate is scored only if this machine computes the same
/// fingerprint (same models by content, same task rows, same llmmerge build), so a score always belongs to the
/// candidate it is stored under. Nothing is written but a tokenizer a recipe edits, in a temporary folder.
/// </summary>
public sealed class CandidateScoreRunner(ITaskScorer? scorer = null)
{
    private readonly ITaskScorer _scorer = scorer ?? new MultipleChoiceTaskScorer();

    public CandidateScore Run(string genomePath, IReadOnlyList<string> taskSearchPaths, ulong? seed, string device, IReadOnlyList<double> genotype, string fingerprint)
    {
        using var search = PreparedSearch.Open(genomePath, taskSearchPaths, seed, device);
        if (genotype.Count != search.Genome.Dimension)
            throw new LlmMergeException($"{genomePath}: the genome has {search.Genome.Dimension} parameters but the candidate's genotype {genotype.Count}; the caller's genome file differs from this one");
        string mine = search.Fingerprint(genotype);
        if (mine != fingerprint)
            throw new LlmMergeException($"{genomePath}: this machine computes candidate fingerprint {mine[..12]}, the search {fingerprint[..Math.Min(12, fingerprint.Length)]}: "
                + "the models, task files or llmmerge build differ between the machines; share the same folders and build the same commit everywhere");
        string work = Path.Combine(Path.GetTempPath(), "llmmerge-candidate-" + Guid.NewGuid().ToString("N"));
        try
        {
            Modeling.Torch.TorchRuntime.Initialize();
            using var evaluator = new InMemoryEvaluator(search.Models, search.MergeOptions, _scorer, work);
            var clock = Stopwatch.StartNew();
            var scores = evaluator.Evaluate(search.Recipe(genotype, $"candidate {fingerprint[..12]}"), search.Tasks);
            return new CandidateScore { Fingerprint = mine, Scores = scores, Seconds = Math.Round(clock.Elapsed.TotalSeconds, 4) };
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>A genotype as the command line carries it: round-trip numbers, comma-separated.</summary>
    public static string FormatGenotype(IReadOnlyList<double> genotype) => string.Join(",", genotype.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    public static double[] ParseGenotype(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                throw new LlmMergeException($"--genotype: '{parts[i]}' (value {i + 1}) is not a number; give comma-separated numbers");
        return values;
    }
}
