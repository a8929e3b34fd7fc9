using LlmMerge.Tests.Eval;
using LlmMerge.Tests.Support;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Moe;

/// <summary>
/// The router rows <c>llmmerge moe</c> writes, against the same quantities computed in the test from the plain-loop
/// reference decoder: mergekit-moe's get_gate_params for every gate mode.
/// </summary>
public class MoeGateTests
{
    private static readonly string[][] Positive =
    [
        ["Question: Is the sky blue?", "The cat sat on the mat."],
        ["A summary is", "None of the above choices ."],
        ["Is grass red?\nAnswer: no"],
    ];

    private static readonly string[] Negative = ["The dog sat on the log."];

    private static string Recipe(string mode, string extra = "") =>
        $"base_model: base\ngate_mode: {mode}\ndtype: float32\n{extra}experts:\n"
        + MoeZoo.ExpertEntry(0, Positive[0]) + MoeZoo.ExpertEntry(1, Positive[1], Negative) + MoeZoo.ExpertEntry(2, Positive[2]);

    private static float[] Router(MoeZoo zoo, int layer) => ModelReader.Read(zoo.OutDir, $"model.layers.{layer}.block_sparse_moe.gate.weight");

    private static void Build(MoeZoo zoo, string recipe, params string[] extra)
    {
        var (exit, _, err) = CliRunner.Run(["moe", zoo.Recipe(recipe), zoo.OutDir, "--quiet", .. extra]);
        Assert.That(exit, Is.Zero, err);
    }

    // bos_token + prompt without special tokens: mergekit's tokenize_prompts.
    private static int[] Tokens(MoeZoo zoo, string prompt)
    {
        var ids = zoo.Tokenizer.Encode(EvalTokenizer.Special + prompt, addSpecialTokens: false).ToArray();
        Assert.That(ids[0], Is.EqualTo(zoo.Tokenizer.BosTokenId), "the prompt starts with BOS");
        Assert.That(ids.Skip(1), Is.EqualTo(zoo.Tokenizer.Encode(prompt, addSpecialTokens: false)));
        return ids;
    }

    private static double[] Normalize(double[] v)
    {
        double norm = Math.Max(Math.Sqrt(v.Sum(x => x * x)), 1e-8);
        return v.Select(x => x / norm).ToArray();
    }

    private static double[] Mean(IEnumerable<double[]> rows)
    {
        var list = rows.ToList();
        return Enumerable.Range(0, list[0].Length).Select(i => list.Average(r => r[i])).ToArray();
    }

    private static void AssertRow(float[] router, int expert, double[] expected, string what)
    {
        int h = expected.Length;
        for (int i = 0; i < h; i++)
            Assert.That(router[expert * h + i], Is.EqualTo(expected[i]).Within(2e-5), $"{what}[{i}]");
    }

    [TestCase("hidden", false)]
    [TestCase("hidden_last", false)]
    [TestCase("hidden_avg", true)]
    public void HiddenModesAreTheBasesLayerInputsAtTheLastTokenOrAveraged(string mode, bool average)
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 3 }, 3);
        Build(zoo, Recipe(mode));
        var reference = new ReferenceDecoder(zoo.Base);
        // hidden_states[:-1]: the input of each layer, for one prompt at its last token or over its tokens.
        double[] Summary(string prompt, int layer)
        {
            var states = reference.LayerInputs(Tokens(zoo, prompt))[layer];
            return average ? Mean(states) : states[^1];
        }
        for (int layer = 0; layer < 3; layer++)
        {
            var router = Router(zoo, layer);
            for (int e = 0; e < 3; e++)
            {
                var v = Mean(Positive[e].Select(p => Summary(p, layer)));
                if (e == 1)
                {
                    var neg = Mean(Negative.Select(p => Summary(p, layer)));
                    v = v.Select((x, i) => x - neg[i]).ToArray();
                }
                AssertRow(router, e, Normalize(v), $"{mode} layer {layer} expert {e}");
            }
        }
        Assert.That(ModelReader.Info(zoo.OutDir, "model.layers.0.block_sparse_moe.gate.weight").Shape, Is.EqualTo(new long[] { 3, zoo.Base.Shape.Hidden }));
    }

    [Test]
    public void CheapEmbedIsTheNormalizedSumOfThePromptsEmbeddingsForEveryLayer()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 2 }, 3);
        Build(zoo, Recipe("cheap_embed"));
        var (_, emb) = zoo.Base.Weights["model.embed_tokens.weight"];
        int h = zoo.Base.Shape.Hidden;
        double[] Embedded(IEnumerable<string> prompts)
        {
            var sum = new double[h];
            foreach (int t in prompts.SelectMany(p => Tokens(zoo, p)))
                for (int i = 0; i < h; i++)
                    sum[i] += emb[t * h + i];
            return Normalize(sum);
        }
        for (int e = 0; e < 3; e++)
        {
            var v = Embedded(Positive[e]);
            if (e == 1)
            {
                var neg = Embedded(Negative);
                v = Normalize(v.Select((x, i) => x - neg[i]).ToArray());
            }
            AssertRow(Router(zoo, 0), e, v, $"expert {e}");
            AssertRow(Router(zoo, 1), e, v, $"expert {e}, layer 1 the same");
        }
    }

    [Test]
    public void RandomGatesAreTorchsRandnOfTheSeedAndUniformRandomIsLinearsInit()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 2 }, 3);
        int h = zoo.Base.Shape.Hidden;
        Build(zoo, Recipe("random"), "--random-seed", "7");
        // torch.manual_seed(7); torch.randn((layers, experts, hidden)) on the CPU generator.
        using var generator = new Generator(7, CPU);
        var expected = randn([2, 3, h], ScalarType.Float32, CPU, generator: generator).data<float>().ToArray();
        var written = Router(zoo, 0).Concat(Router(zoo, 1)).ToArray();
        Assert.That(written, Is.EqualTo(expected));

        Build(zoo, Recipe("uniform_random"), "--random-seed", "7");
        using var g2 = new Generator(7, CPU);
        double scale = Math.Sqrt(1.0 / h);
        var uniform = rand([2, 3, h], ScalarType.Float32, CPU, generator: g2).data<float>().Select(u => u * 2 * scale - scale).ToArray();
        var written2 = Router(zoo, 0).Concat(Router(zoo, 1)).ToArray();
        for (int i = 0; i < uniform.Length; i++)
            Assert.That(written2[i], Is.EqualTo(uniform[i]).Within(1e-6));
        Assert.That(written2.All(v => Math.Abs(v) <= scale), Is.True);

        Build(zoo, Recipe("random"), "--random-seed", "8");
        Assert.That(Router(zoo, 0), Is.Not.EqualTo(expected.Take(3 * h).ToArray()), "another seed draws other gates");
    }

    [Test]
    public void TheDefaultSeedIsPyTorchsSoAnUnseededRunIsReproduced()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 3);
        Build(zoo, Recipe("random"));
        using var generator = new Generator(67280421310721, CPU);
        Assert.That(Router(zoo, 0), Is.EqualTo(randn([1, 3, zoo.Base.Shape.Hidden], ScalarType.Float32, CPU, generator: generator).data<float>().ToArray()));
    }
}
