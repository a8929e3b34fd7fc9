namespace LlmMerge.Modeling;

/// <summary>
/// One prompt to continue: greedily (no <see cref="Sampling"/>) or by sampling, for up to
/// <see cref="MaxNewTokens"/> tokens, stopping before any of <see cref="StopTokens"/> (not returned) or after the
/// token for which <see cref="StopAfter"/> says the text so far holds a stop sequence (returned; the caller cuts the
/// text), and at the model's last position.
/// </summary>
public sealed record GenerationRequest(IReadOnlyList<int> Prompt, int MaxNewTokens, IReadOnlySet<int> StopTokens)
{
    /// <summary>Asked after each new token with every token generated so far; true ends this generation.</summary>
    public Func<IReadOnlyList<int>, bool>? StopAfter { get; init; }

    /// <summary>How to draw each token; null for greedy decoding (argmax, the first of equal maxima).</summary>
    public SamplingSettings? Sampling { get; init; }
}

/// <summary>
/// transformers' sampling for <c>generate(do_sample=True)</c>: logits divided by <see cref="Temperature"/>, then
/// only the <see cref="TopK"/> largest kept (0: all), then the smallest set whose probability reaches
/// <see cref="TopP"/> (1: all), then one draw from the softmax of what is left (its TemperatureLogitsWarper,
/// TopKLogitsWarper, TopPLogitsWarper in that order). Draws come from a generator seeded with <see cref="Seed"/>,
/// one stream per request, so a row samples the same tokens whatever batch it runs in; the stream is not PyTorch's,
/// so the samples differ from a PyTorch run's.
/// </summary>
public sealed record SamplingSettings(double Temperature, int TopK, double TopP, ulong Seed);
