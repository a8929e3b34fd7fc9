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
}

/// <summary>One continuation's log-likelihood and whether greedy decoding would have produced it.</summary>
public readonly record struct ContinuationScore(double LogLikelihood, bool IsGreedy);
