namespace LlmMerge.Eval.Scoring;

/// <summary>A generation row's result: its generations, each filter chain's answer, the prediction and the row's metric values.</summary>
/// <param name="Responses">The generated texts, one per repeat, cut before the first stop sequence.</param>
/// <param name="Filtered">Each filter chain's answer, by chain name, in the task's order.</param>
/// <param name="Prediction">What the submission and SAMPLES.jsonl's prediction hold: a choice index (null when the answer names none) or the text.</param>
/// <param name="Metrics">The row's metric values by RESULTS.json key (empty when the row has no reference).</param>
/// <param name="Tokens">Tokens run through the model for this row.</param>
/// <param name="Truncated">Whether the prompt was cut from the left to fit.</param>
public sealed record GenerationScores(
    IReadOnlyList<string> Responses,
    IReadOnlyList<(string Chain, string Answer)> Filtered,
    object? Prediction,
    IReadOnlyDictionary<string, double> Metrics,
    long Tokens,
    bool Truncated);
