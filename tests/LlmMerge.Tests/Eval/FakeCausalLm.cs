using LlmMerge.Modeling;

namespace LlmMerge.Tests.Eval;

/// <summary>
/// A language model whose answers a test can work out by hand: every token has a fixed log-probability, whatever
/// came before it, so a continuation scores the sum of its tokens' entries. It records every call.
/// </summary>
public sealed class FakeCausalLm : ICausalLanguageModel
{
    private readonly Func<int, double> _logProb;

    public FakeCausalLm(Func<int, double>? logProb = null, int maxSequenceLength = 4096)
    {
        _logProb = logProb ?? (_ => -1.0);
        MaxSequenceLength = maxSequenceLength;
    }

    public int MaxSequenceLength { get; }

    public int VocabSize => 1000;

    /// <summary>What generation returns (before the stop token and the length limit apply).</summary>
    public IReadOnlyList<int> Generation { get; set; } = [];

    /// <summary>When set, what generation returns for a given prompt (over <see cref="Generation"/>).</summary>
    public Func<int[], IReadOnlyList<int>>? GenerationOf { get; set; }

    public List<(int[] Context, int[][] Continuations)> ScoreCalls { get; } = [];

    public List<(int[] Prompt, int MaxNewTokens, int[] Stop)> GenerateCalls { get; } = [];

    public bool Disposed { get; private set; }

    public double LogProb(int token) => _logProb(token);

    public IReadOnlyList<ContinuationScore> ScoreContinuations(IReadOnlyList<int> context, IReadOnlyList<IReadOnlyList<int>> continuations)
    {
        Assert.That(context, Is.Not.Empty, "the interface promises a context of at least one token");
        Assert.That(continuations.All(c => c.Count > 0), "the interface promises non-empty continuations");
        Assert.That(continuations.All(c => context.Count + c.Count <= MaxSequenceLength), "the caller must fit the model's window");
        ScoreCalls.Add((context.ToArray(), continuations.Select(c => c.ToArray()).ToArray()));
        return continuations.Select(c => new ContinuationScore(c.Sum(_logProb), false)).ToList();
    }

    public IReadOnlyList<int> GenerateGreedy(IReadOnlyList<int> prompt, int maxNewTokens, IReadOnlySet<int> stopTokens)
    {
        Assert.That(prompt.Count + maxNewTokens, Is.LessThanOrEqualTo(MaxSequenceLength));
        GenerateCalls.Add((prompt.ToArray(), maxNewTokens, stopTokens.ToArray()));
        var generation = GenerationOf?.Invoke(prompt.ToArray()) ?? Generation;
        return generation.TakeWhile(t => !stopTokens.Contains(t)).Take(maxNewTokens).ToList();
    }

    public void Dispose() => Disposed = true;
}
