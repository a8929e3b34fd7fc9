using LlmMerge.Core;
using LlmMerge.Eval.Scoring;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Tokenizers;

namespace LlmMerge.Search.Scoring;

/// <summary>acc and acc_norm as <c>llmmerge eval</c> computes them (Eval's MultipleChoiceScorer, lm-eval's scoring), row by row.</summary>
public sealed class MultipleChoiceTaskScorer : ITaskScorer
{
    public TaskScore Score(ICausalLanguageModel model, HfTokenizer tokenizer, EvalTask task)
    {
        var scorer = new MultipleChoiceScorer(model, tokenizer, ScoringMode.LmEval);
        int labeled = 0, correct = 0, correctNorm = 0;
        foreach (var row in task.Rows)
        {
            if (row.Kind != RowKind.MultipleChoice)
                throw new LlmMergeException($"{row.Source}: task '{task.Name}' has a generation row; a search scores multiple-choice tasks only");
            if (row.Target is not int target) continue;
            var s = scorer.Score(row, task.TargetDelimiter);
            labeled++;
            if (s.Prediction == target) correct++;
            if (s.PredictionNorm == target) correctNorm++;
        }
        if (labeled == 0)
            throw new LlmMergeException($"task '{task.Name}' ({task.SourcePath}) has no labeled rows to score a candidate on");
        return new TaskScore((double)correct / labeled, (double)correctNorm / labeled, labeled);
    }
}
