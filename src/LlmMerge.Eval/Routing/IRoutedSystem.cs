using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;

namespace LlmMerge.Eval.Routing;

/// <summary>
/// A routed system as the evaluator sees it: it names the expert for each row of a task, and hands out each expert's
/// model when the rows routed to it are scored (loaded on first use; an earlier one may be released to make room).
/// </summary>
public interface IRoutedSystem : IDisposable
{
    /// <summary>The experts' names, in router.json's order.</summary>
    IReadOnlyList<string> Experts { get; }

    /// <summary>
    /// For each row, the index of the expert that scores it; null when the system routes inside its forward pass
    /// (Arrow), and <see cref="Model"/>(0) scores every row.
    /// </summary>
    IReadOnlyList<int>? Route(EvalTask task, IReadOnlyList<EvalRow> rows);

    /// <summary>The model of expert <paramref name="expert"/>, valid until the next call.</summary>
    ICausalLanguageModel Model(int expert);
}
