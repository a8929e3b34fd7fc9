namespace LlmMerge.Contracts.Results;

/// <summary>One task's entry under <c>tasks</c> in RESULTS.json.</summary>
/// <param name="File">The task file as given to <c>llmmerge eval</c>.</param>
/// <param name="Rows">Rows scored or generated (after --limit).</param>
/// <param name="MultipleChoiceRows">Rows scored by log-likelihood.</param>
/// <param name="GenerationRows">Rows answered by generation.</param>
/// <param name="LabeledRows">Multiple-choice rows with a target: the ones the metrics count.</param>
/// <param name="NumFewshot">Few-shot examples per context.</param>
/// <param name="Chance">The accuracy of guessing: the mean of 1/choices over the multiple-choice rows; null without any.</param>
/// <param name="Metrics">Each metric in 0..1 (<c>acc</c>, <c>acc_norm</c>, ...), null when no row has a target.</param>
public sealed record TaskResults(
    string File,
    int Rows,
    int MultipleChoiceRows,
    int GenerationRows,
    int LabeledRows,
    int NumFewshot,
    double? Chance,
    IReadOnlyDictionary<string, double?> Metrics)
{
    /// <summary>The task's accuracy (<c>acc</c>), null when it has none.</summary>
    public double? Accuracy => Metrics.TryGetValue(ResultsSchema.Accuracy, out var acc) ? acc : null;

    /// <summary>A routed system's rows per expert (<c>routed_rows</c>, optional): absent for a plain model.</summary>
    public IReadOnlyDictionary<string, int>? RoutedRows { get; init; }
}
