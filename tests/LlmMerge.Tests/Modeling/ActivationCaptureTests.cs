using LlmMerge.Modeling;
using LlmMerge.Tests.Support;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Modeling;

/// <summary>The opt-in capture of the hidden state entering each layer and of each projection's input, against the plain-loop reference.</summary>
public class ActivationCaptureTests
{
    private static readonly int[] Tokens = [3, 17, 5, 29, 11, 8, 2];

    private static void AssertClose(float[] actual, double[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < expected.Length; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-4 * Math.Max(1, Math.Abs(expected[i]))), $"{what}[{i}]");
    }

    private static float[] Row(Tensor t, int position) => t[0, position].to(ScalarType.Float32).data<float>().ToArray();

    [Test]
    public void LayerInputsAndProjectionInputsAreTheReferencesOwn()
    {
        using var dir = new TempDir();
        var tiny = new TinyDecoder(new TinyDecoderShape { Layers = 3 }, seed: 5);
        using var model = CausalLmLoader.LoadModel(tiny.Write(dir["m"]));
        var reference = new ReferenceDecoder(tiny);
        var expected = reference.LayerInputs(Tokens);

        var layerInputs = new Dictionary<int, Tensor>();
        var projections = new Dictionary<string, Tensor>();
        using var scope = NewDisposeScope();
        var ids = tensor(Tokens.Select(t => (long)t).ToArray()).view(1, Tokens.Length);
        Tensor logitsWith;
        using (model.Model.Capture(new ActivationCapture
        {
            LayerInput = (i, h) => layerInputs[i] = h.clone().DetachFromDisposeScope(),
            ProjectionInput = (name, x) => projections[name] = x.clone().DetachFromDisposeScope(),
        }))
        {
            logitsWith = model.Model.forward(ids);
        }
        var logitsWithout = model.Model.forward(ids);
        Assert.That(logitsWith.data<float>().ToArray(), Is.EqualTo(logitsWithout.data<float>().ToArray()), "capturing changes nothing");

        Assert.That(layerInputs.Keys.Order(), Is.EqualTo(new[] { 0, 1, 2 }));
        for (int layer = 0; layer < 3; layer++)
        {
            for (int t = 0; t < Tokens.Length; t++)
                AssertClose(Row(layerInputs[layer], t), expected[layer][t], $"layer {layer} input, position {t}");
            // q_proj reads input_layernorm of the layer's input.
            var q = projections[$"model.layers.{layer}.self_attn.q_proj"];
            for (int t = 0; t < Tokens.Length; t++)
                AssertClose(Row(q, t), reference.Norm(expected[layer][t], $"model.layers.{layer}.input_layernorm.weight"), $"layer {layer} q_proj input, position {t}");
        }
        string[] perLayer = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
        var names = Enumerable.Range(0, 3).SelectMany(l => perLayer.Select(p => $"model.layers.{l}.{p}")).Append("lm_head");
        Assert.That(projections.Keys, Is.EquivalentTo(names));
        Assert.That(projections["model.layers.1.mlp.down_proj"].shape, Is.EqualTo(new long[] { 1, Tokens.Length, tiny.Shape.Intermediate }));
    }

    [Test]
    public void APassCanStopBeforeALayer()
    {
        using var dir = new TempDir();
        var tiny = new TinyDecoder(new TinyDecoderShape { Layers = 3 }, seed: 9);
        using var model = CausalLmLoader.LoadModel(tiny.Write(dir["m"]));
        var expected = new ReferenceDecoder(tiny).LayerInputs(Tokens);
        using var scope = NewDisposeScope();
        var ids = tensor(Tokens.Select(t => (long)t).ToArray()).view(1, Tokens.Length);
        for (int stop = 0; stop <= 2; stop++)
        {
            var h = model.Model.HiddenStates(ids, null, false, stopBeforeLayer: stop);
            for (int t = 0; t < Tokens.Length; t++)
                AssertClose(Row(h, t), expected[stop][t], $"entering layer {stop}, position {t}");
        }
    }

    [Test]
    public void AFilterLimitsTheProjectionsReported()
    {
        using var dir = new TempDir();
        var tiny = new TinyDecoder(new TinyDecoderShape(), seed: 2);
        using var model = CausalLmLoader.LoadModel(tiny.Write(dir["m"]));
        var seen = new List<string>();
        using var scope = NewDisposeScope();
        using (model.Model.Capture(new ActivationCapture { ProjectionInput = (n, _) => seen.Add(n), ProjectionFilter = n => n.EndsWith("down_proj", StringComparison.Ordinal) }))
            model.Model.forward(tensor(new long[] { 1, 2, 3 }).view(1, 3));
        Assert.That(seen, Is.EqualTo(new[] { "model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj" }));
        Assert.Throws<InvalidOperationException>(() =>
        {
            using var a = model.Model.Capture(new ActivationCapture());
            using var b = model.Model.Capture(new ActivationCapture());
        });
    }
}
