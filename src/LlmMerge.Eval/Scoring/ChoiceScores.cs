namespace LlmMerge.Eval.Scoring;

/// <summary>A multiple-choice row's result: per-choice log-likelihoods and the two predictions.</summary>
/// <param name="LogLikelihoods">One summed log-likelihood per choice, in choice order.</param>
/// <param name="Prediction">argmax of <paramref name="LogLikelihoods"/> (the first of equal maxima): what acc scores.</param>
/// <param name="PredictionNorm">argmax of log-likelihood divided by the choice's length: what acc_norm scores.</param>
/// <param name="Tokens">Tokens run through the model for this row.</param>
/// <param name="Truncated">Whether some context was cut from the left to fit the model.</param>
public sealed record ChoiceScores(IReadOnlyList<double> LogLikelihoods, int Prediction, int PredictionNorm, long Tokens, bool Truncated)
{
    /// <summary>Per choice, whether every continuation token was the model's argmax (lm-eval's is_greedy).</summary>
    public IReadOnlyList<bool> IsGreedy { get; init; } = [];

    /// <summary>Per choice, lm-eval's request arguments: the context text and the continuation text.</summary>
    public IReadOnlyList<(string Context, string Continuation)> Arguments { get; init; } = [];
}
