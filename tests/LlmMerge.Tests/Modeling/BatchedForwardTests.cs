using System.Text.Json.Nodes;
using LlmMerge.Modeling;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Modeling;

/// <summary>
/// Several rows in one padded batch against the same rows one at a time: scores and greedy or sampled generations
/// must not depend on which rows share a batch, how long the others are, or where a row sits in it.
/// </summary>
public class BatchedForwardTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void MakeDir() => _dir = new TempDir();

    [TearDown]
    public void Clean() => _dir.Dispose();

    // Contexts of different lengths (and two of the same), each with its own choices, some of one token.
    private static readonly ScoringRequest[] Requests =
    [
        new([3, 17, 5, 29, 11, 8], [[7], [12, 33, 1], [39, 0]]),
        new([9], [[4, 4, 26], [2]]),
        new([1, 2, 3, 5, 8, 13, 21, 34, 0, 39, 38], [[21, 4, 4, 26], [6], [10, 11]]),
        new([30, 31, 32], [[1, 2]]),
        new([30, 31, 32], [[5], [6, 7, 8, 9, 10]]),
    ];

    public static IEnumerable<TestCaseData> Shapes()
    {
        yield return new TestCaseData(ForwardPassTests.LlamaShape()).SetArgDisplayNames("Llama, llama3 rope, grouped-query");
        yield return new TestCaseData(ForwardPassTests.Qwen2Shape()).SetArgDisplayNames("Qwen2, biases, tied");
        yield return new TestCaseData(ForwardPassTests.LlamaShape() with { Architecture = "MistralForCausalLM", ModelType = "mistral", RopeScaling = null, SlidingWindow = 3 })
            .SetArgDisplayNames("Mistral, window 3");
        yield return new TestCaseData(ForwardPassTests.LlamaShape() with { Architecture = "Phi3ForCausalLM", ModelType = "phi3", RopeScaling = null, SlidingWindow = 5 })
            .SetArgDisplayNames("Phi-3, window 5");
        yield return new TestCaseData(ForwardPassTests.LlamaShape() with { Architecture = "GemmaForCausalLM", ModelType = "gemma", RopeScaling = null, Tied = true, KvHeads = 1 })
            .SetArgDisplayNames("Gemma");
    }

    [TestCaseSource(nameof(Shapes))]
    public void ABatchOfRowsScoresAsEachRowAlone(TinyDecoderShape shape)
    {
        using var model = CausalLmLoader.LoadModel(new TinyDecoder(shape, seed: 21).Write(_dir["model"]));
        var together = model.ScoreBatch(Requests);
        var reversed = model.ScoreBatch(Requests.Reverse().ToList());
        for (int i = 0; i < Requests.Length; i++)
        {
            var alone = model.ScoreContinuations(Requests[i].Context, Requests[i].Continuations);
            for (int c = 0; c < alone.Count; c++)
            {
                double expected = alone[c].LogLikelihood;
                Assert.That(together[i][c].LogLikelihood, Is.EqualTo(expected).Within(1e-5 * Math.Max(1, Math.Abs(expected))), $"row {i} choice {c}");
                Assert.That(reversed[Requests.Length - 1 - i][c].LogLikelihood, Is.EqualTo(expected).Within(1e-5 * Math.Max(1, Math.Abs(expected))), $"row {i} choice {c}, reversed batch");
                Assert.That(together[i][c].IsGreedy, Is.EqualTo(alone[c].IsGreedy), $"row {i} choice {c} is_greedy");
            }
        }
    }

    [Test]
    public void APaddedRowMatchesThePlainDoubleLoopReference()
    {
        var tiny = new TinyDecoder(ForwardPassTests.LlamaShape(), seed: 22);
        using var model = CausalLmLoader.LoadModel(tiny.Write(_dir["model"]));
        var reference = new ReferenceDecoder(tiny);
        var scores = model.ScoreBatch(Requests);
        // Row 1 has one context token beside a row of eleven: ten slots of padding.
        for (int c = 0; c < Requests[1].Continuations.Count; c++)
        {
            double expected = reference.LogLikelihood(Requests[1].Context.ToArray(), Requests[1].Continuations[c].ToArray());
            Assert.That(scores[1][c].LogLikelihood, Is.EqualTo(expected).Within(1e-4 * Math.Max(1, Math.Abs(expected))), $"choice {c}");
        }
    }

    [Test]
    public void ContinuationsSplitIntoSeveralBatchesScoreTheSame()
    {
        using var model = CausalLmLoader.LoadModel(new TinyDecoder(ForwardPassTests.LlamaShape(), seed: 23).Write(_dir["model"]));
        var whole = model.ScoreBatch(Requests);
        model.MaxLogProbElements = 2 * 4 * 40; // two continuation rows at a time
        var split = model.ScoreBatch(Requests);
        for (int i = 0; i < Requests.Length; i++)
        {
            for (int c = 0; c < Requests[i].Continuations.Count; c++)
                Assert.That(split[i][c].LogLikelihood, Is.EqualTo(whole[i][c].LogLikelihood).Within(1e-5), $"row {i} choice {c}");
        }
    }

    private static readonly int[][] Prompts = [[3, 17, 5, 29, 11, 8], [9], [1, 2, 3, 5, 8, 13, 21, 34, 0, 39, 38], [30, 31, 32]];

    [TestCase("LlamaForCausalLM")]
    [TestCase("MistralForCausalLM")]
    public void BatchedGreedyGenerationEqualsOneRowAtATime(string architecture)
    {
        var shape = architecture == "MistralForCausalLM"
            ? ForwardPassTests.LlamaShape() with { Architecture = architecture, ModelType = "mistral", RopeScaling = null, SlidingWindow = 4 }
            : ForwardPassTests.LlamaShape();
        using var model = CausalLmLoader.LoadModel(new TinyDecoder(shape, seed: 24).Write(_dir["model"]));
        var stopAfterTwoOf = new Func<IReadOnlyList<int>, bool>(tokens => tokens.Count(t => t % 2 == 0) >= 2);
        var requests = Prompts.Select((p, i) => new GenerationRequest(p, MaxNewTokens: 3 + (3 * i), StopTokens: i == 2 ? new HashSet<int> { 7 } : new HashSet<int>())
        {
            StopAfter = i == 1 ? stopAfterTwoOf : null,
        }).ToList();
        var together = model.Generate(requests);
        for (int i = 0; i < requests.Count; i++)
        {
            var alone = model.GenerateGreedy(requests[i].Prompt, requests[i].MaxNewTokens, requests[i].StopTokens);
            if (i == 1)
            {
                int cut = Enumerable.Range(1, alone.Count).FirstOrDefault(n => stopAfterTwoOf(alone.Take(n).ToList()), alone.Count);
                alone = alone.Take(cut).ToList();
            }

            Assert.That(together[i], Is.EqualTo(alone), $"row {i}");
        }

        Assert.That(together.Select(t => t.Count).Distinct().Count(), Is.GreaterThan(1), "rows finish at different steps, so some leave the batch early");
    }

    [Test]
    public void SampledRowsDrawTheSameTokensAloneOrInABatchAndRepeatsShareTheirPrompt()
    {
        using var model = CausalLmLoader.LoadModel(new TinyDecoder(ForwardPassTests.LlamaShape(), seed: 25).Write(_dir["model"]));
        GenerationRequest Sampled(int[] prompt, ulong seed) => new(prompt, 10, new HashSet<int>()) { Sampling = new SamplingSettings(1.5, 0, 1.0, seed) };
        var requests = new List<GenerationRequest> { Sampled(Prompts[0], 1), Sampled(Prompts[0], 2), Sampled(Prompts[2], 3), Sampled(Prompts[0], 1) };
        var together = model.Generate(requests);
        for (int i = 0; i < requests.Count; i++)
            Assert.That(together[i], Is.EqualTo(model.Generate([requests[i]])[0]), $"row {i}");
        Assert.That(together[3], Is.EqualTo(together[0]), "same prompt, same seed");
        Assert.That(together[1], Is.Not.EqualTo(together[0]), "same prompt, another seed: at temperature 1.5 over 10 tokens the draws differ");
        var greedy = model.GenerateGreedy(Prompts[0], 10, new HashSet<int>());
        Assert.That(together.Take(2), Has.Some.Not.EqualTo(greedy), "sampling is not argmax");
    }

    [Test]
    public void TopKOneAndATinyTopPAreGreedy()
    {
        using var model = CausalLmLoader.LoadModel(new TinyDecoder(ForwardPassTests.LlamaShape(), seed: 26).Write(_dir["model"]));
        var greedy = model.GenerateGreedy(Prompts[2], 8, new HashSet<int>());
        var topK = model.Generate([new GenerationRequest(Prompts[2], 8, new HashSet<int>()) { Sampling = new SamplingSettings(2.0, 1, 1.0, 7) }])[0];
        var topP = model.Generate([new GenerationRequest(Prompts[2], 8, new HashSet<int>()) { Sampling = new SamplingSettings(2.0, 0, 1e-6, 7) }])[0];
        Assert.That(topK, Is.EqualTo(greedy));
        Assert.That(topP, Is.EqualTo(greedy));
    }

    [Test]
    public void TheSamplerDrawsFromTheWarpedDistribution()
    {
        // Logits 3, 2, 2, 1, 0 at temperature 2 -> 1.5, 1, 1, 0.5, 0. Top-k 3 keeps the first three (ties with the third
        // kept): softmax over e^1.5, e^1, e^1. Top-p 0.6 then drops, from the smallest up, what sums to at most 0.4.
        float[] logits = [3, 2, 2, 1, 0];
        double[] Warped(int topK, double topP)
        {
            var scaled = logits.Select(l => l / 2.0).ToArray();
            var order = Enumerable.Range(0, 5).OrderByDescending(i => scaled[i]).ThenBy(i => i).ToList();
            int keep = topK == 0 ? 5 : order.Count(i => scaled[i] >= scaled[order[topK - 1]]);
            var p = new double[5];
            double z = order.Take(keep).Sum(i => Math.Exp(scaled[i]));
            foreach (int i in order.Take(keep)) p[i] = Math.Exp(scaled[i]) / z;
            double tail = 0;
            for (int j = keep - 1; j > 0; j--)
            {
                if (tail + p[order[j]] > 1 - topP) break;
                tail += p[order[j]];
                p[order[j]] = 0;
            }

            double s = p.Sum();
            return p.Select(x => x / s).ToArray();
        }

        foreach (var (k, topP) in new[] { (0, 1.0), (3, 1.0), (2, 1.0), (0, 0.6), (3, 0.75) })
        {
            var expected = Warped(k, topP);
            var sampler = new TokenSampler(new SamplingSettings(2.0, k, topP, 99));
            var counts = new int[5];
            const int draws = 40000;
            for (int n = 0; n < draws; n++) counts[sampler.Next(logits)]++;
            for (int i = 0; i < 5; i++)
                Assert.That(counts[i] / (double)draws, Is.EqualTo(expected[i]).Within(0.01), $"top_k {k}, top_p {topP}, token {i}");
        }
    }
}
