namespace LlmMerge.Contracts.Results;

/// <summary>RESULTS.json as <c>llmmerge eval</c> writes it (DESIGN.md: each task's metrics, accuracy in 0..1, and the average).</summary>
/// <param name="Model">The model folder scored.</param>
/// <param name="Scoring">lm-eval or starter-kit.</param>
/// <param name="Device">Where the model ran.</param>
/// <param name="Limit">--limit, if given.</param>
/// <param name="Tasks">Each task by name, in the order given.</param>
/// <param name="Average">Each metric's mean over the tasks that report it.</param>
/// <param name="WallTimeSeconds">The whole run, model loading included.</param>
/// <param name="ScoringSeconds">Time spent scoring and generating.</param>
/// <param name="Tokens">Tokens the model ran.</param>
/// <param name="TokensPerSecond">Tokens per second of scoring time.</param>
/// <param name="PeakRssBytes">The process's peak resident memory.</param>
public sealed record ResultsDocument(
    string Model,
    string Scoring,
    string Device,
    int? Limit,
    IReadOnlyList<KeyValuePair<string, TaskResults>> Tasks,
    IReadOnlyDictionary<string, double> Average,
    double WallTimeSeconds,
    double ScoringSeconds,
    long Tokens,
    double TokensPerSecond,
    long PeakRssBytes)
{
    /// <summary>Rows per second of scoring time.</summary>
    public double RowsPerSecond { get; init; }

    /// <summary>Rows per model call (1: one row at a time).</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Where the chat template came from, when prompts went through one; null for plain text.</summary>
    public string? ChatTemplate { get; init; }

    public TaskResults? Task(string name) => Tasks.FirstOrDefault(t => t.Key == name).Value;

    /// <summary>The first task's results (a graph's cache keeps one task per file); null when there is none.</summary>
    public TaskResults? FirstTask => Tasks.Count > 0 ? Tasks[0].Value : null;
}
