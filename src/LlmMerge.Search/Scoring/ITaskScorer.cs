using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Tokenizers;

namespace LlmMerge.Search.Scoring;

/// <summary>
/// The one place the search calls the evaluator: scores a loaded model on a task's rows (in llmmerge eval's
/// batches, <see cref="MultipleChoiceTaskScorer"/>); tests pass their own.
/// </summary>
public interface ITaskScorer
{
    TaskScore Score(ICausalLanguageModel model, HfTokenizer tokenizer, EvalTask task);
}
