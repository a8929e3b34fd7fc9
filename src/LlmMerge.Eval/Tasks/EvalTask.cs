namespace LlmMerge.Eval.Tasks;

/// <summary>The metrics a task reports for its multiple-choice rows.</summary>
public static class MetricNames
{
    /// <summary>Accuracy of the argmax of the summed log-likelihoods.</summary>
    public const string Acc = "acc";

    /// <summary>Accuracy of the argmax of log-likelihood divided by the choice's length (lm-eval's acc_norm).</summary>
    public const string AccNorm = "acc_norm";
}

/// <summary>A loaded task: its name, where it came from, how continuations are joined, and its rows in file order.</summary>
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
    IReadOnlyList<EvalRow> Rows);
