using LlmMerge.Modeling;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// How <c>llmmerge eval</c> scores multiple-choice rows: longest context first (as lm-eval orders its requests), in
/// batches of a number of rows, each batch one <see cref="ICausalLanguageModel.ScoreBatch"/>. Shared with the recipe
/// search, so a candidate scored in memory gets the numbers <c>llmmerge eval</c> gives its merged folder.
/// </summary>
public static class MultipleChoiceBatches
{
    /// <summary>The scores of the rows of <paramref name="encoded"/> that are not null, by their index.</summary>
    public static Dictionary<int, ChoiceScores> Score(ICausalLanguageModel model, MultipleChoiceScorer scorer, IReadOnlyList<EncodedChoices?> encoded, int batchSize, Action<int>? done = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(encoded);
        var rows = encoded.Select((e, i) => (Encoded: e, Index: i)).Where(x => x.Encoded is not null)
            .Select(x => (Prepared: scorer.Fit(x.Encoded!, model.MaxSequenceLength), x.Index))
            .OrderByDescending(x => x.Prepared.Requests.Count == 0 ? 0 : x.Prepared.Requests.Max(r => r.Context.Count))
            .ThenBy(x => x.Index)
            .ToList();
        var scores = new Dictionary<int, ChoiceScores>();
        foreach (var batch in rows.Chunk(batchSize))
        {
            var requests = batch.SelectMany(b => b.Prepared.Requests).ToList();
            var all = requests.Count == 0 ? [] : model.ScoreBatch(requests);
            int at = 0;
            foreach (var (prepared, index) in batch)
            {
                scores[index] = MultipleChoiceScorer.Finish(prepared, all.Skip(at).Take(prepared.Requests.Count).ToList());
                at += prepared.Requests.Count;
            }

            done?.Invoke(batch.Length);
        }

        return scores;
    }
}
