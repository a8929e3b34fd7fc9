using LlmMerge.Modeling;
using LlmMerge.Modeling.Routing;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Routing;

/// <summary>mergekit-moe's gate vectors from prompts, against the same quantities computed from the plain-loop reference's layer inputs.</summary>
public class PromptPrototypeTests
{
    private static readonly int[] First = [3, 17, 5, 29, 11];
    private static readonly int[] Second = [8, 2, 30, 7];
    private static readonly int[] Negative = [21, 4, 9, 13, 6, 1];

    private static double[] Pool(double[][] positions, PromptPooling pooling) =>
        pooling == PromptPooling.LastToken ? positions[^1] : Enumerable.Range(0, positions[0].Length).Select(i => positions.Average(p => p[i])).ToArray();

    private static double[] Normalized(double[] v)
    {
        double n = Math.Max(Math.Sqrt(v.Sum(x => x * x)), 1e-8);
        return v.Select(x => x / n).ToArray();
    }

    private static void AssertClose(double[] actual, double[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < expected.Length; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-4 * Math.Max(1, Math.Abs(expected[i]))), $"{what}[{i}]");
    }

    [TestCase(PromptPooling.LastToken)]
    [TestCase(PromptPooling.Mean)]
    public void PooledStatesAreTheLayerInputsOfTheReference(PromptPooling pooling)
    {
        using var dir = new TempDir();
        var tiny = new TinyDecoder(new TinyDecoderShape { Layers = 3 }, seed: 7);
        using var model = CausalLmLoader.LoadModel(tiny.Write(dir["m"]));
        var expected = new ReferenceDecoder(tiny).LayerInputs(First);
        int[] layers = [2, 0, 1];
        var pooled = PromptPrototypes.Pooled(model.Model, First, layers, pooling);
        for (int k = 0; k < layers.Length; k++)
            AssertClose(pooled[k], Pool(expected[layers[k]], pooling), $"layer {layers[k]}");
    }

    [TestCase(PromptPooling.LastToken)]
    [TestCase(PromptPooling.Mean)]
    public void PromptsOfDifferentLengthsPooledTogetherAreEachTheirOwn(PromptPooling pooling)
    {
        using var dir = new TempDir();
        var tiny = new TinyDecoder(new TinyDecoderShape { Layers = 2 }, seed: 3);
        using var model = CausalLmLoader.LoadModel(tiny.Write(dir["m"]));
        var reference = new ReferenceDecoder(tiny);
        // More prompts than one batch holds, of many lengths, so padding and batch boundaries both occur.
        var prompts = Enumerable.Range(0, PromptPrototypes.BatchSize + 5)
            .Select(p => (IReadOnlyList<int>)Enumerable.Range(0, 1 + p % 9).Select(t => (p * 7 + t * 3) % tiny.Shape.Vocab).ToArray()).ToList();
        var pooled = PromptPrototypes.Pooled(model.Model, prompts, [1], pooling);
        for (int p = 0; p < prompts.Count; p++)
            AssertClose(pooled[p][0], Pool(reference.LayerInputs(prompts[p])[1], pooling), $"prompt {p}");
    }

    [TestCase(PromptPooling.LastToken)]
    [TestCase(PromptPooling.Mean)]
    public void AGateIsTheNormalizedMeanOfThePositivesMinusTheNegatives(PromptPooling pooling)
    {
        using var dir = new TempDir();
        var tiny = new TinyDecoder(new TinyDecoderShape { Layers = 2 }, seed: 11);
        using var model = CausalLmLoader.LoadModel(tiny.Write(dir["m"]));
        var reference = new ReferenceDecoder(tiny);
        foreach (int layer in new[] { 0, 1 })
        {
            var a = Pool(reference.LayerInputs(First)[layer], pooling);
            var b = Pool(reference.LayerInputs(Second)[layer], pooling);
            var n = Pool(reference.LayerInputs(Negative)[layer], pooling);
            var expected = Normalized(a.Select((x, i) => (x + b[i]) / 2 - n[i]).ToArray());
            var gate = PromptPrototypes.GateVectors(model.Model, [First, Second], [Negative], [layer], pooling)[0];
            AssertClose(gate, expected, $"layer {layer}");
            var positiveOnly = PromptPrototypes.GateVectors(model.Model, [First, Second], [], [layer], pooling)[0];
            AssertClose(positiveOnly, Normalized(a.Select((x, i) => (x + b[i]) / 2).ToArray()), $"layer {layer}, no negatives");
        }
    }

    [Test]
    public void CheapEmbedSumsRawEmbeddingRowsAndNormalizesEachSide()
    {
        using var dir = new TempDir();
        var tiny = new TinyDecoder(new TinyDecoderShape { Architecture = "GemmaForCausalLM", ModelType = "gemma", Tied = true, Layers = 1 }, seed: 13);
        using var model = CausalLmLoader.LoadModel(tiny.Write(dir["m"]));
        var (_, emb) = tiny.Weights["model.embed_tokens.weight"];
        int d = tiny.Shape.Hidden;
        // Raw rows: no sqrt(hidden) scaling even for Gemma, as mergekit reads model.embed_tokens.weight itself.
        double[] Sum(IEnumerable<int> ids) => Enumerable.Range(0, d).Select(i => ids.Sum(t => (double)emb[t * d + i])).ToArray();
        var positive = Normalized(Sum(First.Concat(Second)));
        var negative = Normalized(Sum(Negative));
        AssertClose(PromptPrototypes.CheapEmbedding(model.Model, [First, Second]), positive, "embedding");
        AssertClose(PromptPrototypes.CheapGateVector(model.Model, [First, Second], [Negative]), Normalized(positive.Select((x, i) => x - negative[i]).ToArray()), "gate");
    }

    [Test]
    public void CosineIsTheNormalizedDotProduct()
    {
        double[] a = [1, 2, -2], b = [2, 0, 1];
        Assert.That(PromptPrototypes.Cosine(a, b), Is.EqualTo(0.0).Within(1e-15));
        Assert.That(PromptPrototypes.Cosine(a, [2, 4, -4]), Is.EqualTo(1.0).Within(1e-15));
        Assert.That(PromptPrototypes.Cosine([3, 4], [4, 3]), Is.EqualTo(24.0 / 25).Within(1e-15));
        Assert.That(PromptPrototypes.Cosine([0, 0], [1, 0]), Is.Zero);
    }
}
