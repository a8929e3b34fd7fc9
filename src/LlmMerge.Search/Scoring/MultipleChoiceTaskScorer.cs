using System.Runtime.CompilerServices;
using LlmMerge.Core;
using LlmMerge.Eval.Scoring;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Tokenizers;

namespace LlmMerge.Search.Scoring;

/// <summary>
/// acc and acc_norm as <c>llmmerge eval</c> computes them: its encoding (lm-eval's scoring) and its batches of
/// <see cref="EvalOptions.DefaultBatchSize"/> rows, longest first (<see cref="MultipleChoiceBatches"/>), so a
/// candidate's scores are the ones <c>llmmerge eval</c> gives its merged folder. A task's rows are encoded once per
/// tokenizer for the whole search: only the model changes from candidate to candidate.
/// </summary>
public sealed class MultipleChoiceTaskScorer : ITaskScorer
{
    // Keyed by the task and tokenizer objects themselves; the search keeps both for its whole run.
    private readonly ConditionalWeakTable<EvalTask, ConditionalWeakTable<HfTokenizer, Encoded>> _encoded = new();

    public TaskScore Score(ICausalLanguageModel model, HfTokenizer tokenizer, EvalTask task)
    {
        var encoded = _encoded.GetValue(task, _ => new()).GetValue(tokenizer, t => Encode(t, task));
        var scores = MultipleChoiceBatches.Score(model, encoded.Scorer, encoded.Rows, EvalOptions.DefaultBatchSize);
        int correct = 0, correctNorm = 0;
        foreach (var (i, s) in scores)
        {
            int target = (int)task.Rows[i].Target!;
            if (s.Prediction == target) correct++;
            if (s.PredictionNorm == target) correctNorm++;
        }
        return new TaskScore((double)correct / encoded.Labeled, (double)correctNorm / encoded.Labeled, encoded.Labeled);
    }

    private static Encoded Encode(HfTokenizer tokenizer, EvalTask task)
    {
        var scorer = new MultipleChoiceScorer(tokenizer, ScoringMode.LmEval);
        var rows = new EncodedChoices?[task.Rows.Count];
        int labeled = 0;
        for (int i = 0; i < task.Rows.Count; i++)
        {
            var row = task.Rows[i];
            if (row.Kind != RowKind.MultipleChoice)
                throw new LlmMergeException($"{row.Source}: task '{task.Name}' has a generation row; a search scores multiple-choice tasks only");
            if (row.Target is not int) continue;
            rows[i] = scorer.Encode(row, row.Context, task.TargetDelimiter);
            labeled++;
        }
        if (labeled == 0)
            throw new LlmMergeException($"task '{task.Name}' ({task.SourcePath}) has no labeled rows to score a candidate on");
        return new Encoded(scorer, rows, labeled);
    }

    private sealed record Encoded(MultipleChoiceScorer Scorer, IReadOnlyList<EncodedChoices?> Rows, int Labeled);
}
