namespace LlmMerge.Modeling;

/// <summary>
/// What scoring needs from a language model, in token ids. The forward pass implements it on TorchSharp;
/// scoring code and its tests depend only on this, so tasks and scoring can be checked with a fake model.
/// </summary>
public interface ICausalLanguageModel : IDisposable
{
    /// <summary>Longest sequence (context plus continuation) the model accepts; longer inputs are cut from the left by the caller.</summary>
    int MaxSequenceLength { get; }

    int VocabSize { get; }

    /// <summary>
    /// For each continuation, the sum of log-probabilities of its tokens given the context followed by the
    /// continuation's earlier tokens, and whether every token was the argmax (lm-eval's <c>is_greedy</c>).
    /// The context is run once and its key/value cache shared by all continuations. The context must hold at
    /// least one token; continuations at least one each.
    /// </summary>
    IReadOnlyList<ContinuationScore> ScoreContinuations(IReadOnlyList<int> context, IReadOnlyList<IReadOnlyList<int>> continuations);

    /// <summary>Greedy decoding: up to <paramref name="maxNewTokens"/> new tokens, stopping after the first token in <paramref name="stopTokens"/> (which is not returned).</summary>
    IReadOnlyList<int> GenerateGreedy(IReadOnlyList<int> prompt, int maxNewTokens, IReadOnlySet<int> stopTokens);

    /// <summary>
    /// <see cref="ScoreContinuations"/> for several requests at once; the results are those of scoring each alone
    /// (up to floating-point rounding). A model that batches runs the contexts together.
    /// </summary>
    IReadOnlyList<IReadOnlyList<ContinuationScore>> ScoreBatch(IReadOnlyList<ScoringRequest> requests) =>
        requests.Select(r => ScoreContinuations(r.Context, r.Continuations)).ToList();

    /// <summary>
    /// Continues each prompt as its <see cref="GenerationRequest"/> says; the results are those of generating each
    /// alone. This default decodes greedily one request at a time and cannot sample.
    /// </summary>
    IReadOnlyList<IReadOnlyList<int>> Generate(IReadOnlyList<GenerationRequest> requests) =>
        requests.Select(r =>
        {
            if (r.Sampling is not null) throw new NotSupportedException($"{GetType().Name} cannot sample; it decodes greedily only");
            var tokens = GenerateGreedy(r.Prompt, r.MaxNewTokens, r.StopTokens);
            if (r.StopAfter is null) return tokens;
            // Greedy tokens do not depend on when decoding stops, so cutting after the fact is the same as stopping.
            for (int n = 1; n <= tokens.Count; n++)
            {
                if (r.StopAfter(tokens.Take(n).ToList())) return tokens.Take(n).ToList();
            }

            return tokens;
        }).ToList();
}

/// <summary>One continuation's log-likelihood and whether greedy decoding would have produced it.</summary>
public readonly record struct ContinuationScore(double LogLikelihood, bool IsGreedy);
