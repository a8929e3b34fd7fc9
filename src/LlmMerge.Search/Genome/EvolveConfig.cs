namespace LlmMerge.Search.Genome;

/// <summary>One objective: a task (a file, or a task name found under the task search paths), its weight and metric.</summary>
public sealed record TaskSpec(string Name, double Weight, string Metric);

/// <summary>llmmerge's own search settings, which the command line overrides (a graph step writes them here).</summary>
public sealed record SearchSettings
{
    public int? MaxFevals { get; init; }

    public ulong? RandomSeed { get; init; }

    public double? Sigma0 { get; init; }

    public int? Popsize { get; init; }
}

/// <summary>
/// A mergekit-evolve config (mergekit/evo/config.py EvolMergeConfiguration at a6e40288): the genome, the tasks, and
/// lm-eval's settings for them; plus an optional <c>search</c> block of llmmerge's own.
/// </summary>
public sealed record EvolveConfig
{
    public required GenomeDefinition Genome { get; init; }

    public required IReadOnlyList<TaskSpec> Tasks { get; init; }

    /// <summary>Rows per task (lm-eval's limit).</summary>
    public int? Limit { get; init; }

    public int? NumFewshot { get; init; }

    /// <summary>mergekit's random_init: a uniform random initial genotype instead of equal weights.</summary>
    public bool RandomInit { get; init; }

    public bool ApplyChatTemplate { get; init; } = true;

    public SearchSettings Search { get; init; } = new();

    /// <summary>The file it was read from.</summary>
    public required string SourcePath { get; init; }
}
