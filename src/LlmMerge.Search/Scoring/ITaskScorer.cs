using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Tokenizers;

namespace LlmMerge.Search.Scoring;

/// <summary>
/// The one place the search calls the evaluator: scores a loaded model on a task's rows. Kept this small so the
/// evaluator's scoring (row by row now, batched rows later) can change behind it.
/// </summary>
public interface ITaskScorer
{
    TaskScore Score(ICausalLanguageModel model, HfTokenizer tokenizer, EvalTask task);
}
