namespace LlmMerge.Eval.Tasks;

/// <summary>Whether a row is scored by choice log-likelihoods or answered by greedy generation.</summary>
public enum RowKind
{
    /// <summary>Pick one of <see cref="EvalRow.Choices"/> by log-likelihood.</summary>
    MultipleChoice,

    /// <summary>Generate text greedily from the context.</summary>
    Generation,
}

/// <summary>
/// One row of a task, ready to score: the full context (few-shot examples included), the choices, and the
/// target as an index into them (null when the row is unlabeled or is a generation row).
/// </summary>
/// <param name="Id">The row's id as the task file gives it (the competition's <c>id</c>, else the 0-based row number).</param>
/// <param name="Context">The prompt the model reads.</param>
/// <param name="Choices">The answer choices, without the target delimiter; empty for generation rows.</param>
/// <param name="Target">0-based index of the correct choice, or null.</param>
/// <param name="TargetText">A generation row's reference text, when the file has one.</param>
/// <param name="Kind">How the row is answered.</param>
/// <param name="Source">Where the row comes from (<c>file:line</c>), for messages.</param>
public sealed record EvalRow(
    string Id,
    string Context,
    IReadOnlyList<string> Choices,
    int? Target,
    string? TargetText,
    RowKind Kind,
    string Source);
