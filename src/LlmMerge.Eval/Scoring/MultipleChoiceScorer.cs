using LlmMerge.Core;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// Scores a multiple-choice row: encodes each choice as <see cref="ScoringMode"/> says, cuts contexts from the
/// left so context + continuation fits <see cref="ICausalLanguageModel.MaxSequenceLength"/> (each choice keeps
/// as much context as fits beside it, as lm-eval's per-request truncation does), runs every group of choices that
/// share a context in one model call, and picks acc's and acc_norm's answers.
/// </summary>
public sealed class MultipleChoiceScorer
{
    private readonly ICausalLanguageModel _model;
    private readonly HfTokenizer _tokenizer;
    private readonly ScoringMode _mode;

    /// <summary>A scorer of rows with <paramref name="model"/> and its <paramref name="tokenizer"/>.</summary>
    public MultipleChoiceScorer(ICausalLanguageModel model, HfTokenizer tokenizer, ScoringMode mode)
    {
        _model = model;
        _tokenizer = tokenizer;
        _mode = mode;
    }

    /// <summary>Scores <paramref name="row"/>, joining context and choice with <paramref name="targetDelimiter"/> (lm-eval mode only).</summary>
    public ChoiceScores Score(EvalRow row, string targetDelimiter)
    {
        ArgumentNullException.ThrowIfNull(row);
        var requests = _mode == ScoringMode.LmEval ? LmEvalRequests(row, targetDelimiter) : StarterKitRequests(row);
        var lls = new double[row.Choices.Count];
        long tokens = 0;
        bool truncated = false;

        // Fit each request; those left with the same context run together on one pass over it.
        var groups = new Dictionary<string, (IReadOnlyList<int> Context, List<(int Choice, IReadOnlyList<int> Continuation)> Items)>(StringComparer.Ordinal);
        foreach (var (choice, context, continuation) in requests)
        {
            if (continuation.Count == 0) continue; // nothing scored: log-likelihood 0
            var kept = Fit(context, continuation, row, choice);
            truncated |= kept.Count < context.Count;
            string key = string.Join(',', kept);
            if (!groups.TryGetValue(key, out var group)) groups[key] = group = (kept, []);
            group.Items.Add((choice, continuation));
        }

        foreach (var (context, items) in groups.Values)
        {
            var scores = _model.ScoreContinuations(context, items.Select(i => i.Continuation).ToList());
            if (scores.Count != items.Count)
                throw new InvalidOperationException($"the model returned {scores.Count} scores for {items.Count} continuations.");
            for (int i = 0; i < items.Count; i++) lls[items[i].Choice] = scores[i].LogLikelihood;
            tokens += context.Count + items.Sum(i => (long)i.Continuation.Count);
        }

        return new ChoiceScores(lls, ChoiceMetrics.ArgMax(lls), ChoiceMetrics.ArgMaxNormalized(lls, row.Choices), tokens, truncated);
    }

    private List<(int Choice, IReadOnlyList<int> Context, IReadOnlyList<int> Continuation)> LmEvalRequests(EvalRow row, string delimiter)
    {
        var list = new List<(int, IReadOnlyList<int>, IReadOnlyList<int>)>(row.Choices.Count);
        for (int c = 0; c < row.Choices.Count; c++)
        {
            var (context, continuation) = LmEvalEncoding.EncodePair(_tokenizer, row.Context, delimiter + row.Choices[c]);
            if (continuation.Count == 0)
                throw new LlmMergeException($"{row.Source}: row id {row.Id}: choice {c} ('{row.Choices[c]}') encodes to no tokens after the context, so it cannot be scored.");
            list.Add((c, context, continuation));
        }

        return list;
    }

    private List<(int Choice, IReadOnlyList<int> Context, IReadOnlyList<int> Continuation)> StarterKitRequests(EvalRow row)
    {
        IReadOnlyList<int> input = StarterKitEncoding.EncodeInput(_tokenizer, row.Context);
        if (input.Count == 0)
            throw new LlmMergeException($"{row.Source}: row id {row.Id}: the input encodes to no tokens and the tokenizer adds no BOS, so there is nothing to condition on.");
        var list = new List<(int, IReadOnlyList<int>, IReadOnlyList<int>)>(row.Choices.Count);
        for (int c = 0; c < row.Choices.Count; c++)
        {
            IReadOnlyList<int> choice = StarterKitEncoding.EncodeChoice(_tokenizer, row.Choices[c]);

            // The first choice token is part of what the model reads but its own probability is not counted.
            IReadOnlyList<int> context = choice.Count == 0 ? input : [.. input, choice[0]];
            IReadOnlyList<int> scored = choice.Count <= 1 ? [] : choice.Skip(1).ToArray();
            list.Add((c, context, scored));
        }

        return list;
    }

    // lm-eval feeds (context + continuation)[-(max_length + 1):][:-1], since the last token is only a target; the
    // interface's window counts the whole continuation, so a context here keeps one token fewer at the limit.
    private IReadOnlyList<int> Fit(IReadOnlyList<int> context, IReadOnlyList<int> continuation, EvalRow row, int choice)
    {
        int max = _model.MaxSequenceLength;
        if (continuation.Count >= max)
            throw new LlmMergeException($"{row.Source}: row id {row.Id}: choice {choice} is {continuation.Count} tokens long; with at least one context token it does not fit the model's {max}-token window.");
        int over = context.Count + continuation.Count - max;
        return over > 0 ? context.Skip(over).ToArray() : context;
    }
}
