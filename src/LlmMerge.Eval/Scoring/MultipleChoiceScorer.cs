using LlmMerge.Core;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// Scores multiple-choice rows: encodes each choice as <see cref="ScoringMode"/> says, cuts contexts from the
/// left so context + continuation fits <see cref="ICausalLanguageModel.MaxSequenceLength"/> (each choice keeps
/// as much context as fits beside it, as lm-eval's per-request truncation does), groups the choices that share a
/// context into one request, and picks acc's and acc_norm's answers. Encode, Fit and
/// <see cref="Finish"/> let the caller score the requests of many rows in one batch.
/// </summary>
public sealed class MultipleChoiceScorer
{
    private readonly ICausalLanguageModel? _model;
    private readonly HfTokenizer _tokenizer;
    private readonly ScoringMode _mode;

    /// <summary>A scorer of rows with <paramref name="model"/> and its <paramref name="tokenizer"/>.</summary>
    public MultipleChoiceScorer(ICausalLanguageModel model, HfTokenizer tokenizer, ScoringMode mode)
        : this(tokenizer, mode)
    {
        _model = model;
    }

    /// <summary>A scorer that only encodes (<see cref="Encode"/>); the model comes later.</summary>
    public MultipleChoiceScorer(HfTokenizer tokenizer, ScoringMode mode)
    {
        _tokenizer = tokenizer;
        _mode = mode;
    }

    /// <summary>Scores <paramref name="row"/>, joining its plain context and each choice with <paramref name="targetDelimiter"/> (lm-eval mode only).</summary>
    public ChoiceScores Score(EvalRow row, string targetDelimiter)
    {
        ArgumentNullException.ThrowIfNull(row);
        var model = _model ?? throw new InvalidOperationException("this scorer has no model");
        var prepared = Fit(Encode(row, row.Context, targetDelimiter), model.MaxSequenceLength);
        return Finish(prepared, model.ScoreBatch(prepared.Requests));
    }

    /// <summary>
    /// The row's requests before truncation: for each choice, the context and continuation token ids, and
    /// lm-eval's arguments (context text, continuation text) for SAMPLES.jsonl.
    /// </summary>
    public EncodedChoices Encode(EvalRow row, string context, string targetDelimiter)
    {
        ArgumentNullException.ThrowIfNull(row);
        var items = new List<EncodedChoice>(row.Choices.Count);
        if (_mode == ScoringMode.LmEval)
        {
            for (int c = 0; c < row.Choices.Count; c++)
            {
                string continuation = targetDelimiter + row.Choices[c];
                var (ctx, cont) = LmEvalEncoding.EncodePair(_tokenizer, context, continuation);
                if (cont.Count == 0)
                    throw new LlmMergeException($"{row.Source}: row id {row.Id}: choice {c} ('{row.Choices[c]}') encodes to no tokens after the context, so it cannot be scored.");
                items.Add(new EncodedChoice(c, ctx, cont, context, continuation));
            }
        }
        else
        {
            IReadOnlyList<int> input = StarterKitEncoding.EncodeInput(_tokenizer, context);
            if (input.Count == 0)
                throw new LlmMergeException($"{row.Source}: row id {row.Id}: the input encodes to no tokens and the tokenizer adds no BOS, so there is nothing to condition on.");
            for (int c = 0; c < row.Choices.Count; c++)
            {
                IReadOnlyList<int> choice = StarterKitEncoding.EncodeChoice(_tokenizer, row.Choices[c]);

                // The first choice token is part of what the model reads but its own probability is not counted.
                IReadOnlyList<int> ctx = choice.Count == 0 ? input : [.. input, choice[0]];
                IReadOnlyList<int> scored = choice.Count <= 1 ? [] : choice.Skip(1).ToArray();
                items.Add(new EncodedChoice(c, ctx, scored, context, row.Choices[c]));
            }
        }

        return new EncodedChoices(row, items);
    }

    /// <summary>Cuts each choice's context to fit <paramref name="maxSequenceLength"/> and groups the choices left with the same context into one request.</summary>
    public PreparedChoices Fit(EncodedChoices encoded, int maxSequenceLength)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        var groups = new Dictionary<string, (IReadOnlyList<int> Context, List<(int Choice, IReadOnlyList<int> Continuation)> Items)>(StringComparer.Ordinal);
        bool truncated = false;
        foreach (var choice in encoded.Choices)
        {
            if (choice.Continuation.Count == 0) continue; // nothing scored: log-likelihood 0
            var kept = Fit(choice.Context, choice.Continuation, encoded.Row, choice.Index, maxSequenceLength);
            truncated |= kept.Count < choice.Context.Count;
            string key = string.Join(',', kept);
            if (!groups.TryGetValue(key, out var group)) groups[key] = group = (kept, []);
            group.Items.Add((choice.Index, choice.Continuation));
        }

        var requests = groups.Values.Select(g => new ScoringRequest(g.Context, g.Items.Select(i => i.Continuation).ToList())).ToList();
        var owners = groups.Values.Select(g => g.Items.Select(i => i.Choice).ToList()).ToList();
        return new PreparedChoices(encoded, requests, owners, truncated);
    }

    /// <summary>The row's scores from the model's scores of <paramref name="prepared"/>'s requests (in their order).</summary>
    public static ChoiceScores Finish(PreparedChoices prepared, IReadOnlyList<IReadOnlyList<ContinuationScore>> scores)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(scores);
        var row = prepared.Encoded.Row;
        var lls = new double[row.Choices.Count];
        var greedy = new bool[row.Choices.Count];
        long tokens = 0;
        if (scores.Count != prepared.Requests.Count)
            throw new InvalidOperationException($"the model returned scores for {scores.Count} requests, not {prepared.Requests.Count}.");
        for (int g = 0; g < prepared.Requests.Count; g++)
        {
            var request = prepared.Requests[g];
            if (scores[g].Count != request.Continuations.Count)
                throw new InvalidOperationException($"the model returned {scores[g].Count} scores for {request.Continuations.Count} continuations.");
            for (int i = 0; i < request.Continuations.Count; i++)
            {
                lls[prepared.Owners[g][i]] = scores[g][i].LogLikelihood;
                greedy[prepared.Owners[g][i]] = scores[g][i].IsGreedy;
            }

            tokens += request.Context.Count + request.Continuations.Sum(c => (long)c.Count);
        }

        return new ChoiceScores(lls, ChoiceMetrics.ArgMax(lls), ChoiceMetrics.ArgMaxNormalized(lls, row.Choices), tokens, prepared.Truncated)
        {
            IsGreedy = greedy,
            Arguments = prepared.Encoded.Choices.Select(c => (c.ContextText, c.ContinuationText)).ToList(),
        };
    }

    // lm-eval feeds (context + continuation)[-(max_length + 1):][:-1], since the last token is only a target; the
    // interface's window counts the whole continuation, so a context here keeps one token fewer at the limit.
    private static IReadOnlyList<int> Fit(IReadOnlyList<int> context, IReadOnlyList<int> continuation, EvalRow row, int choice, int max)
    {
        if (continuation.Count >= max)
            throw new LlmMergeException($"{row.Source}: row id {row.Id}: choice {choice} is {continuation.Count} tokens long; with at least one context token it does not fit the model's {max}-token window.");
        int over = context.Count + continuation.Count - max;
        return over > 0 ? context.Skip(over).ToArray() : context;
    }
}

/// <summary>One choice encoded: its index, its context and continuation ids, and the texts lm-eval logs as its arguments.</summary>
public sealed record EncodedChoice(int Index, IReadOnlyList<int> Context, IReadOnlyList<int> Continuation, string ContextText, string ContinuationText);

/// <summary>A row's choices encoded, before they are fitted to a model.</summary>
public sealed record EncodedChoices(EvalRow Row, IReadOnlyList<EncodedChoice> Choices)
{
    /// <summary>The longest context, for sorting rows into batches.</summary>
    public int LongestContext => Choices.Count == 0 ? 0 : Choices.Max(c => c.Context.Count);
}

/// <summary>A row's requests fitted to a model: one per distinct context, with the choice each continuation belongs to.</summary>
public sealed record PreparedChoices(EncodedChoices Encoded, IReadOnlyList<ScoringRequest> Requests, IReadOnlyList<List<int>> Owners, bool Truncated);
