namespace LlmMerge.Eval.Scoring;

/// <summary>One task's outcome in RESULTS.json.</summary>
/// <param name="Name">The task's name.</param>
/// <param name="File">The task file.</param>
/// <param name="Rows">Rows scored or generated (after --limit).</param>
/// <param name="MultipleChoiceRows">Rows scored by log-likelihood.</param>
/// <param name="GenerationRows">Rows answered by generation.</param>
/// <param name="LabeledRows">Rows with a target or reference: the ones the metrics count.</param>
/// <param name="NumFewshot">Few-shot examples per context.</param>
/// <param name="Chance">The mean of 1/choices over the multiple-choice rows (guessing's accuracy); null without any.</param>
/// <param name="Metrics">Each of the task's metrics in 0..1, or null when no row has a target.</param>
public sealed record TaskResult(
    string Name,
    string File,
    int Rows,
    int MultipleChoiceRows,
    int GenerationRows,
    int LabeledRows,
    int NumFewshot,
    double? Chance,
    IReadOnlyDictionary<string, double?> Metrics)
{
    /// <summary>A routed system's rows per expert (every expert listed), or null for a plain model or a system that routes inside its forward pass.</summary>
    public IReadOnlyDictionary<string, int>? RoutedRows { get; init; }
}

/// <summary>An evaluation's outcome: per-task metrics, their averages, and what it cost.</summary>
/// <param name="ModelDir">The model folder.</param>
/// <param name="Scoring">How multiple-choice rows were scored.</param>
/// <param name="Device">Where the model ran.</param>
/// <param name="Limit">--limit, if given.</param>
/// <param name="Tasks">Each task's result, in the order given.</param>
/// <param name="Average">Each metric's mean over the tasks that report it.</param>
/// <param name="WallSeconds">The whole run, model loading included.</param>
/// <param name="ScoringSeconds">Time spent scoring and generating.</param>
/// <param name="Tokens">Tokens the model ran (contexts once per shared pass, continuations, prompts, new tokens).</param>
/// <param name="PeakRssBytes">The process's peak resident memory.</param>
public sealed record EvalReport(
    string ModelDir,
    ScoringMode Scoring,
    string Device,
    int? Limit,
    IReadOnlyList<TaskResult> Tasks,
    IReadOnlyDictionary<string, double> Average,
    double WallSeconds,
    double ScoringSeconds,
    long Tokens,
    long PeakRssBytes)
{
    /// <summary>Rows per model call.</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Where the chat template came from, when prompts went through one.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Rows scored or generated, over all tasks.</summary>
    public int Rows => Tasks.Sum(t => t.Rows);

    /// <summary>Rows per second of scoring time.</summary>
    public double RowsPerSecond => ScoringSeconds > 0 ? Rows / ScoringSeconds : 0;

    /// <summary>Tokens per second of scoring time.</summary>
    public double TokensPerSecond => ScoringSeconds > 0 ? Tokens / ScoringSeconds : 0;
}
