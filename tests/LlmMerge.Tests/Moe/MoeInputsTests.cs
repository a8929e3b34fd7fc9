using LlmMerge.Engine.Moe;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Moe;

/// <summary>How a mixture's recipe and inputs are read: mergekit-moe's defaults, LoRA adapters as experts.</summary>
public class MoeInputsTests
{
    [Test]
    public void TheRecipeTakesMergekitMoesDefaults()
    {
        var recipe = MoeRecipeParser.Parse("base_model: b\nexperts:\n  - source_model: e0\n    positive_prompts: [\"x\"]\n  - source_model: e1+lora\n");
        Assert.That(recipe.GateMode, Is.EqualTo("hidden"));
        Assert.That(recipe.ExpertsPerToken, Is.EqualTo(2));
        Assert.That(recipe.DType, Is.Null);
        Assert.That(recipe.SharedExperts, Is.Null);
        Assert.That(recipe.Experts[1].SourceModel.Lora, Is.EqualTo("lora"));
        Assert.That(recipe.Experts[1].PositivePrompts, Is.Null);
        Assert.That(recipe.Experts[0].Line, Is.EqualTo(3));
    }

    [Test]
    public void ALoraAdapterExpertGivesItsAdaptedMlpsComputedAsRead()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 1);
        var s = zoo.Base.Shape;
        var adapter = new TinyAdapter(4, 8, baseModel: zoo.BaseDir, targets: ["gate_proj", "down_proj"])
            .Add("model.layers.0.mlp.gate_proj", s.Intermediate, s.Hidden, 41)
            .Add("model.layers.0.mlp.down_proj", s.Hidden, s.Intermediate, 43);
        adapter.Write(zoo.Dir["lora"]);
        string recipe = "base_model: base\ngate_mode: random\ndtype: float32\nexperts:\n  - source_model: expert-0\n  - source_model: lora\n";
        var (exit, _, err) = CliRunner.Run("moe", zoo.Recipe(recipe), zoo.OutDir, "--quiet");
        Assert.That(exit, Is.Zero, err);
        foreach (var (from, to) in new[] { ("gate_proj", "w1"), ("up_proj", "w3"), ("down_proj", "w2") })
        {
            string name = $"model.layers.0.mlp.{from}.weight";
            var (shape, w) = zoo.Base.Weights[name];
            var expected = adapter.Apply(name, shape, w);
            var actual = ModelReader.Read(zoo.OutDir, $"model.layers.0.block_sparse_moe.experts.1.{to}.weight");
            for (int i = 0; i < expected.Length; i++)
                Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-5), $"{to}[{i}]");
        }
    }
}
