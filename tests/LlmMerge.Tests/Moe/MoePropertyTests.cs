using LlmMerge.Modeling;
using LlmMerge.Tests.Support;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Moe;

/// <summary>Properties a mixture must have whatever its router says.</summary>
public class MoePropertyTests
{
    private static float[] Logits(string dir, long[] ids)
    {
        using var model = CausalLmLoader.LoadModel(dir);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return model.Model.forward(tensor(ids).view(1, -1)).data<float>().ToArray();
    }

    [TestCase(1, 2e-6)]
    [TestCase(2, 1e-5)]
    public void AMixtureOfCopiesOfTheBaseComputesWhatTheBaseComputes(int perToken, double tolerance)
    {
        // Every expert is the base's MLP, so whichever k experts a token goes to, weights summing to one give the
        // base's MLP output back. For k = 1 the weight is p / p = 1 exactly; what remains is float32 rounding of the
        // same products computed over the routed rows only (a differently blocked matmul).
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 2 }, 0);
        string recipe = $"base_model: base\ngate_mode: random\ndtype: float32\nexperts_per_token: {perToken}\nexperts:\n"
            + string.Concat(Enumerable.Range(0, 4).Select(_ => "  - source_model: base\n"));
        var (exit, _, err) = CliRunner.Run("moe", zoo.Recipe(recipe), zoo.OutDir, "--quiet", "--i-understand-this-is-not-useful-without-training");
        Assert.That(exit, Is.Zero, err);
        long[] ids = [0, 5, 17, 3, 99, 42, 8, 8, 250];
        var dense = Logits(zoo.BaseDir, ids);
        var mixture = Logits(zoo.OutDir, ids);
        Assert.That(mixture.Length, Is.EqualTo(dense.Length));
        for (int i = 0; i < dense.Length; i++)
            Assert.That(mixture[i], Is.EqualTo(dense[i]).Within(tolerance * Math.Max(1, Math.Abs(dense[i]))), $"logit {i}");
    }
}
