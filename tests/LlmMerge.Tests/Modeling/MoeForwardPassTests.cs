using LlmMerge.Modeling;
using LlmMerge.Modeling.Moe;
using LlmMerge.Tests.Support;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Modeling;

/// <summary>
/// Mixtral and Qwen2-MoE forward passes against <see cref="ReferenceDecoder"/>'s plain-loop mixture, the cache
/// against full recomputation, greedy decoding against argmax by recomputation, and the fused transformers 5 layout.
/// </summary>
public class MoeForwardPassTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void MakeDir() => _dir = new TempDir();

    [TearDown]
    public void Clean() => _dir.Dispose();

    private static readonly int[] Context = [3, 17, 5, 29, 11, 8];

    private static readonly int[][] Choices = [[7], [12, 33, 1], [39, 0], [21, 4, 4, 26]];

    public static TinyDecoderShape MixtralShape() => new()
    {
        Architecture = "MixtralForCausalLM",
        ModelType = "mixtral",
        Experts = 4,
        TopK = 2,
        Layers = 2,
    };

    public static TinyDecoderShape Qwen2MoeShape() => new()
    {
        Architecture = "Qwen2MoeForCausalLM",
        ModelType = "qwen2_moe",
        Experts = 5,
        TopK = 3,
        Layers = 3,
        QkvBias = true,
        DenseLayers = [1],
    };

    private static TinyDecoderShape Shape(string architecture, bool normTopK = false) =>
        architecture == "MixtralForCausalLM" ? MixtralShape() : Qwen2MoeShape() with { NormTopK = normTopK };

    private static void AssertRelative(double actual, double expected, double tolerance, string what) =>
        Assert.That(actual, Is.EqualTo(expected).Within(tolerance * Math.Max(1, Math.Abs(expected))), what);

    [TestCase("MixtralForCausalLM", false)]
    [TestCase("Qwen2MoeForCausalLM", false)]
    [TestCase("Qwen2MoeForCausalLM", true)]
    public void ScoresMatchThePlainLoopMixture(string architecture, bool normTopK)
    {
        var tiny = new TinyDecoder(Shape(architecture, normTopK), seed: 21);
        using var model = CausalLmLoader.Load(tiny.Write(_dir["model"]));
        var reference = new ReferenceDecoder(tiny);
        var scores = model.ScoreContinuations(Context, Choices);
        for (int i = 0; i < Choices.Length; i++)
            AssertRelative(scores[i].LogLikelihood, reference.LogLikelihood(Context, Choices[i]), 1e-4, $"choice {i}");
        Assert.That(scores.Select(s => Math.Round(s.LogLikelihood, 3)).Distinct().Count(), Is.EqualTo(Choices.Length));
    }

    [Test]
    public void EveryPositionsLogProbsMatchTheReference()
    {
        var tiny = new TinyDecoder(MixtralShape(), seed: 22);
        using var model = CausalLmLoader.LoadModel(tiny.Write(_dir["model"]));
        int[] tokens = [1, 2, 3, 5, 8, 13, 21, 34, 0, 39, 38, 20];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logProbs = model.Model.forward(Ids(tokens)).log_softmax(-1).data<float>().ToArray();
        var expected = new ReferenceDecoder(tiny).LogProbs(tokens);
        for (int t = 0; t < tokens.Length; t++)
        {
            for (int v = 0; v < tiny.Shape.Vocab; v++)
                AssertRelative(logProbs[t * tiny.Shape.Vocab + v], expected[t][v], 1e-4, $"position {t}, token {v}");
        }
    }

    [TestCase("MixtralForCausalLM")]
    [TestCase("Qwen2MoeForCausalLM")]
    public void TokensGoToDifferentExperts(string architecture)
    {
        // Otherwise the comparisons with the reference would not tell a sparse block from a dense one.
        var tiny = new TinyDecoder(Shape(architecture), seed: 21);
        using var model = CausalLmLoader.LoadModel(tiny.Write(_dir["model"]));
        var sets = new Dictionary<int, HashSet<string>>();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using (model.Model.Capture(new ActivationCapture
        {
            RouterLogits = (layer, logits) =>
            {
                var top = logits.topk(tiny.Shape.TopK, dim: -1).indexes.data<long>().ToArray();
                sets[layer] = top.Chunk(tiny.Shape.TopK).Select(c => string.Join(",", c.Order())).ToHashSet();
            },
        }))
        {
            model.Model.forward(Ids(Context));
        }
        Assert.That(sets.Keys, Is.EquivalentTo(Enumerable.Range(0, tiny.Shape.Layers).Where(tiny.Shape.IsSparse)));
        Assert.That(sets.Values.All(s => s.Count > 1), Is.True, string.Join("; ", sets.Select(kv => $"{kv.Key}: {string.Join(" ", kv.Value)}")));
    }

    [TestCase("MixtralForCausalLM")]
    [TestCase("Qwen2MoeForCausalLM")]
    public void CachedScoresEqualTheFullSequenceWithoutCache(string architecture)
    {
        var tiny = new TinyDecoder(Shape(architecture), seed: 23);
        using var model = CausalLmLoader.LoadModel(tiny.Write(_dir["model"]));
        var scores = model.ScoreContinuations(Context, Choices);
        for (int i = 0; i < Choices.Length; i++)
        {
            var (logLikelihood, greedy) = FullSequenceScore(model.Model, Context, Choices[i]);
            Assert.That(scores[i].LogLikelihood, Is.EqualTo(logLikelihood).Within(1e-5 * Math.Max(1, Math.Abs(logLikelihood))), $"choice {i}");
            Assert.That(scores[i].IsGreedy, Is.EqualTo(greedy), $"choice {i} is_greedy");
        }
    }

    [TestCase("MixtralForCausalLM")]
    [TestCase("Qwen2MoeForCausalLM")]
    public void GreedyGenerationEqualsArgmaxByFullRecomputation(string architecture)
    {
        var tiny = new TinyDecoder(Shape(architecture), seed: 24);
        using var model = CausalLmLoader.LoadModel(tiny.Write(_dir["model"]));
        var generated = model.GenerateGreedy(Context, 10, new HashSet<int>());
        var expected = new List<int>();
        var sequence = Context.ToList();
        using var noGrad = no_grad();
        for (int step = 0; step < 10; step++)
        {
            using var scope = NewDisposeScope();
            int next = (int)model.Model.forward(Ids(sequence))[0, sequence.Count - 1].argmax().item<long>();
            expected.Add(next);
            sequence.Add(next);
        }
        Assert.That(generated, Is.EqualTo(expected));
        Assert.That(expected.Distinct().Count(), Is.GreaterThan(1), "a model that repeats one token would hide cache errors");
    }

    [TestCase("MixtralForCausalLM")]
    [TestCase("Qwen2MoeForCausalLM")]
    public void TheFusedTransformers5LayoutLoadsToTheSameModel(string architecture)
    {
        var tiny = new TinyDecoder(Shape(architecture), seed: 25);
        using var perExpert = CausalLmLoader.Load(tiny.Write(_dir["experts"]));
        string fusedDir = tiny.Write(_dir["fused"], edit: (_, weights) =>
        {
            weights.Clear();
            foreach (var (k, v) in tiny.FusedExperts())
                weights[k] = v;
        });
        Assert.That(File.ReadAllText(Path.Combine(fusedDir, "model.safetensors")), Does.Contain("mlp.experts.gate_up_proj").And.Not.Contain("experts.0."));
        using var fused = CausalLmLoader.Load(fusedDir);
        var a = perExpert.ScoreContinuations(Context, Choices);
        var b = fused.ScoreContinuations(Context, Choices);
        Assert.That(b.Select(s => s.LogLikelihood), Is.EqualTo(a.Select(s => s.LogLikelihood)));
    }

    [Test]
    public void EachExpertRunsOnlyOnTheTokensRoutedToIt()
    {
        var tiny = new TinyDecoder(MixtralShape(), seed: 26);
        using var model = CausalLmLoader.LoadModel(tiny.Write(_dir["model"]));
        var routed = new Dictionary<int, int[]>();
        var expertRows = new Dictionary<string, long>();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using (model.Model.Capture(new ActivationCapture
        {
            RouterLogits = (layer, logits) => routed[layer] = logits.topk(2, dim: -1).indexes.view(-1).data<long>().Select(e => (int)e).ToArray(),
            ProjectionInput = (name, x) => expertRows[name] = x.shape[0],
            ProjectionFilter = name => name.EndsWith(".w1", StringComparison.Ordinal),
        }))
        {
            model.Model.forward(Ids(Context));
        }
        Assert.That(routed.Keys.Order(), Is.EqualTo(new[] { 0, 1 }));
        for (int layer = 0; layer < 2; layer++)
        {
            for (int e = 0; e < 4; e++)
            {
                int count = routed[layer].Count(x => x == e);
                string name = $"model.layers.{layer}.block_sparse_moe.experts.{e}.w1";
                if (count == 0)
                    Assert.That(expertRows.ContainsKey(name), Is.False, $"{name} ran without tokens");
                else
                    Assert.That(expertRows.GetValueOrDefault(name), Is.EqualTo(count), name);
            }
        }
        Assert.That(expertRows.Values.Sum(), Is.EqualTo(2 * 2 * Context.Length), "k = 2 experts per token, 2 layers");
    }

    [TestCase("MixtralForCausalLM")]
    [TestCase("Qwen2MoeForCausalLM")]
    public void ParametersAndModulesHaveExactlyTheCheckpointsNames(string architecture)
    {
        var tiny = new TinyDecoder(Shape(architecture), 1);
        var config = CausalLmArchitectures.ReadConfig(new LlmMerge.Core.Models.ModelConfig(tiny.Config()));
        using var model = CausalLmArchitectures.Create(config, CPU, ScalarType.Float32);
        Assert.That(model.named_parameters().Select(p => p.name), Is.EquivalentTo(tiny.Weights.Keys));
        // Every projection is reachable under one name only, the one its parameters have (captures report it).
        var projections = model.named_modules().Where(m => m.module is LinearProjection).ToList();
        Assert.That(projections.Select(p => p.name + ".weight"), Is.EquivalentTo(tiny.Weights.Keys.Where(k => k.EndsWith(".weight", StringComparison.Ordinal) && !k.Contains("norm") && !k.Contains("embed"))));
        Assert.That(projections.All(p => ((LinearProjection)p.module).QualifiedName == p.name), Is.True);
    }

    [Test]
    public void ModuleNamesAreTheHubCheckpointsOwn()
    {
        var config = CausalLmArchitectures.ReadConfig(new LlmMerge.Core.Models.ModelConfig(new TinyDecoder(Qwen2MoeShape(), 1).Config()));
        using var model = CausalLmArchitectures.Create(config, CPU, ScalarType.Float32);
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.That(names, Does.Contain("model.layers.0.mlp.gate.weight")
            .And.Contain("model.layers.0.mlp.experts.4.down_proj.weight")
            .And.Contain("model.layers.0.mlp.shared_expert.up_proj.weight")
            .And.Contain("model.layers.0.mlp.shared_expert_gate.weight")
            .And.Contain("model.layers.0.self_attn.q_proj.bias")
            .And.Contain("model.layers.1.mlp.gate_proj.weight"), "layer 1 is in mlp_only_layers");
        Assert.That(model.Config.Moe, Is.Not.Null);
        Assert.That(config.Moe!.SparseLayers, Is.EqualTo(new[] { true, false, true }));
        Assert.That(model, Is.InstanceOf<Qwen2MoeForCausalLM>());
    }

    private static Tensor Ids(IReadOnlyList<int> tokens) => tensor(tokens.Select(t => (long)t).ToArray()).view(1, -1);

    private static (double LogLikelihood, bool Greedy) FullSequenceScore(DecoderForCausalLM model, int[] context, int[] continuation)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logProbs = model.forward(Ids([.. context, .. continuation])).log_softmax(-1)[0];
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
}
