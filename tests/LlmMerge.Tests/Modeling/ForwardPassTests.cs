using System.Text.Json.Nodes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling;
using LlmMerge.Tests.Support;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Modeling;

/// <summary>The TorchSharp forward pass against <see cref="ReferenceDecoder"/>, the cache against full recomputation.</summary>
public class ForwardPassTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void MakeDir() => _dir = new TempDir();

    [TearDown]
    public void Clean() => _dir.Dispose();

    private static readonly int[] Context = [3, 17, 5, 29, 11, 8];

    private static readonly int[][] Choices = [[7], [12, 33, 1], [39, 0], [21, 4, 4, 26]];

    public static JsonObject Llama3Scaling() => new()
    {
        ["rope_type"] = "llama3",
        ["factor"] = 4.0,
        ["low_freq_factor"] = 1.0,
        ["high_freq_factor"] = 4.0,
        // Small, so the tiny head's wavelengths (6.3, 63, 628, 6283) fall in every band of the rescaling.
        ["original_max_position_embeddings"] = 16.0,
    };

    public static TinyDecoderShape LlamaShape() => new() { RopeScaling = Llama3Scaling(), Theta = 10000 };

    public static TinyDecoderShape Qwen2Shape() => new()
    {
        Architecture = "Qwen2ForCausalLM",
        ModelType = "qwen2",
        Hidden = 24, // head_dim 8 x 4 heads = 32 != hidden: q_proj is not square
        QkvBias = true,
        Tied = true,
        Theta = 1000,
    };

    private static void AssertRelative(double actual, double expected, double tolerance, string what) =>
        Assert.That(actual, Is.EqualTo(expected).Within(tolerance * Math.Max(1, Math.Abs(expected))), what);

    private void AssertScoresMatchReference(TinyDecoder tiny)
    {
        using var model = CausalLmLoader.Load(tiny.Write(_dir["model"]));
        var reference = new ReferenceDecoder(tiny);
        var scores = model.ScoreContinuations(Context, Choices);
        Assert.That(scores, Has.Count.EqualTo(Choices.Length));
        for (int i = 0; i < Choices.Length; i++)
        {
            double expected = reference.LogLikelihood(Context, Choices[i]);
            AssertRelative(scores[i].LogLikelihood, expected, 1e-4, $"choice {i}");
        }
        // Not a uniform model: the choices' scores differ, so the comparison above means something.
        Assert.That(scores.Select(s => Math.Round(s.LogLikelihood, 3)).Distinct().Count(), Is.EqualTo(Choices.Length));
    }

    [Test]
    public void LlamaWithGroupedQueryAttentionAndLlama3RopeMatchesTheReference() =>
        AssertScoresMatchReference(new TinyDecoder(LlamaShape(), seed: 1));

    [Test]
    public void LlamaWithLinearRopeScalingMatchesTheReference() =>
        AssertScoresMatchReference(new TinyDecoder(LlamaShape() with { RopeScaling = new JsonObject { ["type"] = "linear", ["factor"] = 2.0 } }, seed: 2));

    [Test]
    public void LlamaWithAttentionAndMlpBiasesMatchesTheReference() =>
        AssertScoresMatchReference(new TinyDecoder(LlamaShape() with { QkvBias = true, AllBiases = true }, seed: 14));

    [Test]
    public void Qwen2WithBiasesAndTiedEmbeddingsMatchesTheReference()
    {
        var tiny = new TinyDecoder(Qwen2Shape(), seed: 3);
        Assert.That(tiny.Weights.ContainsKey("lm_head.weight"), Is.False, "a tied checkpoint holds no lm_head");
        AssertScoresMatchReference(tiny);
    }

    [Test]
    public void GemmaMatchesTheReference()
    {
        // Norm weights near zero, as Gemma stores them (the scale is 1 + weight).
        var tiny = new TinyDecoder(LlamaShape() with { Architecture = "GemmaForCausalLM", ModelType = "gemma", RopeScaling = null, Tied = true, KvHeads = 1 }, seed: 12);
        foreach (var name in tiny.Weights.Keys.Where(n => n.EndsWith("norm.weight", StringComparison.Ordinal)).ToList())
            tiny.Weights[name] = (tiny.Weights[name].Shape, tiny.Weights[name].Values.Select(v => v - 1f).ToArray());
        AssertScoresMatchReference(tiny);
    }

    [Test]
    public void Phi3WithFusedProjectionsAndSlidingWindowMatchesTheReference()
    {
        var shape = LlamaShape() with { Architecture = "Phi3ForCausalLM", ModelType = "phi3", RopeScaling = null, SlidingWindow = 5 };
        AssertScoresMatchReference(new TinyDecoder(shape, seed: 13));
    }

    [Test]
    public void MistralSlidingWindowMatchesTheReference()
    {
        // A window of 3 over a 6-token context: the cached continuation pass must hide the older context keys too.
        var shape = LlamaShape() with { Architecture = "MistralForCausalLM", ModelType = "mistral", RopeScaling = null, SlidingWindow = 3 };
        AssertScoresMatchReference(new TinyDecoder(shape, seed: 4));
    }

    [Test]
    public void FullSequenceLogProbsMatchTheReferenceAtEveryPosition()
    {
        var tiny = new TinyDecoder(LlamaShape(), seed: 5);
        using var model = CausalLmLoader.LoadModel(tiny.Write(_dir["model"]));
        int[] tokens = [1, 2, 3, 5, 8, 13, 21, 34, 0, 39, 38, 20];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logProbs = model.Model.forward(tensor(tokens.Select(t => (long)t).ToArray()).view(1, -1)).log_softmax(-1).data<float>().ToArray();
        var expected = new ReferenceDecoder(tiny).LogProbs(tokens);
        for (int t = 0; t < tokens.Length; t++)
        {
            for (int v = 0; v < tiny.Shape.Vocab; v++)
                AssertRelative(logProbs[t * tiny.Shape.Vocab + v], expected[t][v], 1e-4, $"position {t}, token {v}");
        }
    }

    [TestCase("LlamaForCausalLM")]
    [TestCase("Qwen2ForCausalLM")]
    [TestCase("MistralForCausalLM")]
    [TestCase("Phi3ForCausalLM")]
    public void CachedScoresEqualScoringTheFullSequenceWithoutCache(string architecture)
    {
        var shape = architecture switch
        {
            "Qwen2ForCausalLM" => Qwen2Shape(),
            "MistralForCausalLM" => LlamaShape() with { Architecture = architecture, ModelType = "mistral", SlidingWindow = 4 },
            "Phi3ForCausalLM" => LlamaShape() with { Architecture = architecture, ModelType = "phi3", SlidingWindow = 4 },
            _ => LlamaShape(),
        };
        var tiny = new TinyDecoder(shape, seed: 6);
        using var model = CausalLmLoader.LoadModel(tiny.Write(_dir["model"]));
        var scores = model.ScoreContinuations(Context, Choices);
        for (int i = 0; i < Choices.Length; i++)
        {
            var (logLikelihood, greedy) = FullSequenceScore(model.Model, Context, Choices[i]);
            Assert.That(scores[i].LogLikelihood, Is.EqualTo(logLikelihood).Within(1e-5 * Math.Max(1, Math.Abs(logLikelihood))), $"choice {i}");
            Assert.That(scores[i].IsGreedy, Is.EqualTo(greedy), $"choice {i} is_greedy");
        }
    }

    [Test]
    public void IsGreedyIsTrueForTheArgmaxContinuation()
    {
        var tiny = new TinyDecoder(LlamaShape(), seed: 7);
        using var model = CausalLmLoader.Load(tiny.Write(_dir["model"]));
        var greedy = model.GenerateGreedy(Context, 3, new HashSet<int>());
        var scores = model.ScoreContinuations(Context, [greedy, [.. greedy.Take(2), (greedy[2] + 1) % tiny.Shape.Vocab]]);
        Assert.That(scores[0].IsGreedy, Is.True);
        Assert.That(scores[1].IsGreedy, Is.False);
        Assert.That(scores[0].LogLikelihood, Is.GreaterThan(scores[1].LogLikelihood));
    }

    [TestCase("LlamaForCausalLM")]
    [TestCase("Qwen2ForCausalLM")]
    public void GreedyGenerationEqualsArgmaxDecodingByFullRecomputation(string architecture)
    {
        var tiny = new TinyDecoder(architecture == "Qwen2ForCausalLM" ? Qwen2Shape() : LlamaShape(), seed: 8);
        using var model = CausalLmLoader.LoadModel(tiny.Write(_dir["model"]));
        var generated = model.GenerateGreedy(Context, 12, new HashSet<int>());

        var expected = new List<int>();
        var sequence = Context.ToList();
        for (int step = 0; step < 12; step++)
        {
            int next = ArgmaxOfLastPosition(model.Model, sequence);
            expected.Add(next);
            sequence.Add(next);
        }
        Assert.That(generated, Is.EqualTo(expected));
        Assert.That(expected.Distinct().Count(), Is.GreaterThan(1), "a model that repeats one token would hide cache errors");
    }

    [Test]
    public void GreedyGenerationStopsBeforeAStopToken()
    {
        var tiny = new TinyDecoder(LlamaShape(), seed: 8);
        using var model = CausalLmLoader.Load(tiny.Write(_dir["model"]));
        var all = model.GenerateGreedy(Context, 8, new HashSet<int>());
        int stopAt = Enumerable.Range(1, all.Count - 1).First(i => !all.Take(i).Contains(all[i]));
        var stopped = model.GenerateGreedy(Context, 8, new HashSet<int> { all[stopAt] });
        Assert.That(stopped, Is.EqualTo(all.Take(stopAt)));
        Assert.That(model.GenerateGreedy(Context, 0, new HashSet<int>()), Is.Empty);
    }

    [Test]
    public void GenerationEndsAtTheLastPosition()
    {
        var tiny = new TinyDecoder(LlamaShape() with { MaxPositions = 10 }, seed: 9);
        using var model = CausalLmLoader.Load(tiny.Write(_dir["model"]));
        Assert.That(model.GenerateGreedy(Context, 50, new HashSet<int>()), Has.Count.EqualTo(10 - Context.Length));
    }

    [Test]
    public void ManyChoicesAreScoredInSeveralBatchesWithTheSameResult()
    {
        var tiny = new TinyDecoder(LlamaShape(), seed: 10);
        using var model = CausalLmLoader.LoadModel(tiny.Write(_dir["model"]));
        var rng = new Random(1);
        var choices = Enumerable.Range(0, 40).Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, rng.Next(1, 6)).Select(_ => rng.Next(tiny.Shape.Vocab)).ToArray()).ToList();
        // Room for 3 rows of 4 positions at a time: 14 batches, the last one short.
        model.MaxLogProbElements = 3 * 4 * tiny.Shape.Vocab;
        var together = model.ScoreContinuations(Context, choices);
        for (int i = 0; i < choices.Count; i += 7)
        {
            var alone = model.ScoreContinuations(Context, [choices[i]]);
            Assert.That(together[i].LogLikelihood, Is.EqualTo(alone[0].LogLikelihood).Within(1e-5), $"choice {i}");
        }
    }

    [Test]
    public void Bfloat16ComputeStaysCloseToFloat32()
    {
        var tiny = new TinyDecoder(LlamaShape(), seed: 11);
        string dir = tiny.Write(_dir["model"], SafetensorsDType.BF16);
        using var f32 = CausalLmLoader.Load(dir);
        using var bf16 = CausalLmLoader.Load(dir, dtype: "bfloat16");
        var a = f32.ScoreContinuations(Context, Choices);
        var b = bf16.ScoreContinuations(Context, Choices);
        for (int i = 0; i < Choices.Length; i++)
            Assert.That(b[i].LogLikelihood, Is.EqualTo(a[i].LogLikelihood).Within(0.1 * Math.Max(1, Math.Abs(a[i].LogLikelihood))), $"choice {i}");
    }

    private static (double LogLikelihood, bool Greedy) FullSequenceScore(DecoderForCausalLM model, int[] context, int[] continuation)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var all = context.Concat(continuation).Select(t => (long)t).ToArray();
        var logProbs = model.forward(tensor(all).view(1, -1)).log_softmax(-1)[0];
        double sum = 0;
        bool greedy = true;
        for (int k = 0; k < continuation.Length; k++)
        {
            var row = logProbs[context.Length + k - 1];
            sum += row[continuation[k]].item<float>();
            greedy &= row.argmax().item<long>() == continuation[k];
        }
        return (sum, greedy);
    }

    private static int ArgmaxOfLastPosition(DecoderForCausalLM model, List<int> sequence)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.forward(tensor(sequence.Select(t => (long)t).ToArray()).view(1, -1));
        return (int)logits[0, sequence.Count - 1].argmax().item<long>();
    }
}
