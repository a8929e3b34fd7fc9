namespace LlmMerge.Eval.Tasks;

/// <summary>Whether a row is scored by choice log-likelihoods or answered by generation.</summary>
public enum RowKind
{
    /// <summary>Pick one of <see cref="EvalRow.Choices"/> by log-likelihood.</summary>
    MultipleChoice,

    /// <summary>Generate text from the context (lm-eval's generate_until; the competition CSV's generation rows).</summary>
    Generation,
}

/// <summary>One solved example put before a row's question: the question text and its answer (empty when the example has none).</summary>
public sealed record FewshotExample(string Question, string Answer);

/// <summary>
/// One row of a task, ready to score: the full plain-text context (few-shot examples included), the choices, and the
/// target as an index into them (null when the row is unlabeled). The prompt's parts (<see cref="Description"/>,
/// <see cref="Examples"/>, <see cref="Question"/>) are kept too, so a chat template or a system instruction can lay
/// them out as lm-eval's fewshot_context does.
/// </summary>
/// <param name="Id">The row's id as the task file gives it (the competition's <c>id</c>, else the 0-based row number).</param>
/// <param name="Context">The prompt as plain text, as the model reads it without a chat template.</param>
/// <param name="Choices">The answer choices, without the target delimiter; empty for generation rows with none.</param>
/// <param name="Target">0-based index of the correct choice, or null.</param>
/// <param name="TargetText">The reference text of a generation row (or the gold choice's text), when there is one.</param>
/// <param name="Kind">How the row is answered.</param>
/// <param name="Source">Where the row comes from (<c>file:line</c>), for messages.</param>
public sealed record EvalRow(
    string Id,
    string Context,
    IReadOnlyList<string> Choices,
    int? Target,
    string? TargetText,
    RowKind Kind,
    string Source)
{
    /// <summary>The task's description before the examples (lm-eval puts it in the system message).</summary>
    public string Description { get; init; } = "";

    /// <summary>The few-shot examples, in the order they are shown.</summary>
    public IReadOnlyList<FewshotExample> Examples { get; init; } = [];

    /// <summary>The row's own question (doc_to_text); null means the whole <see cref="Context"/> is the question.</summary>
    public string? Question { get; init; }

    /// <summary>Several references a generation's answer may match (doc_to_target gave a list); null for one.</summary>
    public IReadOnlyList<string>? TargetTexts { get; init; }

    /// <summary>The references a generation is scored against: <see cref="TargetTexts"/>, else <see cref="TargetText"/>; empty when unlabeled.</summary>
    public IReadOnlyList<string> References => TargetTexts ?? (TargetText is string t ? [t] : []);
}
