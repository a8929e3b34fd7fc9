namespace LlmMerge.Eval.Tasks;

/// <summary>The metrics a task reports.</summary>
public static class MetricNames
{
    /// <summary>Accuracy of the argmax of the summed log-likelihoods (for generation tasks with choices: of the answer mapped to a choice).</summary>
    public const string Acc = "acc";

    /// <summary>Accuracy of the argmax of log-likelihood divided by the choice's length (lm-eval's acc_norm).</summary>
    public const string AccNorm = "acc_norm";

    /// <summary>lm-eval's exact_match of a generation's filtered answer against the reference.</summary>
    public const string ExactMatch = "exact_match";

    /// <summary>ROUGE F-measures (rouge1, rouge2, rougeL, rougeLsum) as Hugging Face evaluate's "rouge" reports them.</summary>
    public const string Rouge = "rouge";
}

/// <summary>A loaded task: its name, where it came from, how prompts are joined and scored, and its rows in file order.</summary>
/// <param name="Name">The task's name in RESULTS.json (the YAML's <c>task</c>, else the file name without extension).</param>
/// <param name="SourcePath">The task file.</param>
/// <param name="TargetDelimiter">Put between the context and each choice (lm-eval's <c>target_delimiter</c>).</param>
/// <param name="Metrics">The metrics to report, from <see cref="MetricNames"/>.</param>
/// <param name="NumFewshot">Few-shot examples in each context.</param>
/// <param name="Rows">The rows, in file order.</param>
public sealed record EvalTask(
    string Name,
    string SourcePath,
    string TargetDelimiter,
    IReadOnlyList<string> Metrics,
    int NumFewshot,
    IReadOnlyList<EvalRow> Rows)
{
    /// <summary>lm-eval's <c>fewshot_delimiter</c>: after each example, and between a system instruction and the description.</summary>
    public string FewshotDelimiter { get; init; } = "\n\n";

    /// <summary>How generation rows generate; null for the competition CSV's (greedy to EOS or --max-gen-len, no stop sequences).</summary>
    public GenerationConfig? Generation { get; init; }

    /// <summary>Generations per generation row (lm-eval's <c>repeats</c>).</summary>
    public int Repeats { get; init; } = 1;

    /// <summary>The filter chains of generation rows, each scored separately; the first decides the prediction.</summary>
    public IReadOnlyList<FilterChain> Filters { get; init; } = [FilterChain.None];

    /// <summary>The metrics with their options (exact_match's ignore_case, rouge's use_stemmer, ...).</summary>
    public IReadOnlyList<MetricSpec> MetricSpecs { get; init; } = [];

    /// <summary>Whether generation rows are scored as lm-eval's generate_until (filters, exact_match) rather than as the competition's generation rows (ROUGE).</summary>
    public bool IsGenerateUntil => Generation is not null;
}
