using System.Text.Json.Nodes;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

/// <summary>Layer stacking (frankenmerges) with passthrough, as mergekit's planner lays slices out.</summary>
public class StackingTests : MergeTestBase
{
    [SetUp]
    public void MakeDeeperModels()
    {
        Fixtures.Model(4, layers: 4).Write(Dir["four"]);
        Fixtures.Model(6, layers: 6).Write(Dir["six"]);
    }

    /// <summary>Layers 0-3 of "four" then 2-5 of "six"; SCALE stands for an optional per-source scale line.</summary>
    internal const string Stacked = """
        merge_method: passthrough
        slices:
          - sources:
              - model: four
                layer_range: [0, 4]
          - sources:
              - model: six
                layer_range: [2, 6]
                SCALE
        """;

    private static JsonObject Config(string dir) => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;

    [Test]
    public void LayersOfTwoModelsAreStackedAndRenumbered()
    {
        string output = Merge(Stacked.Replace("SCALE", ""));
        Assert.That(Config(output)["num_hidden_layers"]!.GetValue<int>(), Is.EqualTo(8));
        using (var m = LlmMerge.Core.Models.ModelFolder.Open(output))
            Assert.That(m.TensorNames, Is.EquivalentTo(Fixtures.Names(8)));
        for (int i = 0; i < 8; i++)
        {
            foreach (var s in Fixtures.LayerSuffixes)
            {
                string from = i < 4 ? $"model.layers.{i}{s}" : $"model.layers.{i - 2}{s}";
                Assert.That(ModelReader.Read(output, $"model.layers.{i}{s}"), Is.EqualTo(In(i < 4 ? "four" : "six", from)), $"layer {i}{s}");
            }
        }
        // mergekit plans the tensors before the layers from the first slice and those after from the last.
        Assert.That(ModelReader.Read(output, "model.embed_tokens.weight"), Is.EqualTo(In("four", "model.embed_tokens.weight")));
        Assert.That(ModelReader.Read(output, "model.norm.weight"), Is.EqualTo(In("six", "model.norm.weight")));
        Assert.That(ModelReader.Read(output, "lm_head.weight"), Is.EqualTo(In("six", "lm_head.weight")));
    }

    [Test]
    public void ScaleMultipliesTheTensorsOfItsSource()
    {
        string output = Merge(Stacked.Replace("SCALE", "parameters: {scale: 0.5}"));
        AssertClose(ModelReader.Read(output, "model.layers.5.mlp.up_proj.weight"), In("six", "model.layers.3.mlp.up_proj.weight").Select(x => x * 0.5f).ToArray());
        // the slice source's parameters reach the tensors after the layers too, as in mergekit's ConfigReader
        AssertClose(ModelReader.Read(output, "lm_head.weight"), In("six", "lm_head.weight").Select(x => x * 0.5f).ToArray());
        Assert.That(ModelReader.Read(output, "model.layers.1.mlp.up_proj.weight"), Is.EqualTo(In("four", "model.layers.1.mlp.up_proj.weight")));
    }

    [Test]
    public void AGradientOverSlicesGivesTheTensorsAfterTheLayersItsFirstValue()
    {
        // Two slices of two layers each: layer t = 0, 1 in both; the final norm and head at t = 0 (mergekit a6e40288).
        string output = Merge("""
            merge_method: linear
            parameters: {normalize: false}
            slices:
              - sources:
                  - model: four
                    layer_range: [0, 2]
                    parameters: {weight: [0.25, 1]}
                  - model: six
                    layer_range: [0, 2]
                    parameters: {weight: [0.75, 0]}
              - sources:
                  - model: four
                    layer_range: [2, 4]
                    parameters: {weight: [0.5, 1]}
                  - model: six
                    layer_range: [2, 4]
                    parameters: {weight: [0.5, 0]}
            """);
        foreach (string name in new[] { "model.norm.weight", "lm_head.weight" })
        {
            var four = In("four", name);
            var six = In("six", name);
            AssertClose(ModelReader.Read(output, name), four.Select((x, i) => 0.5f * x + 0.5f * six[i]).ToArray(), what: name);
        }
        var embedFour = In("four", "model.embed_tokens.weight");
        var embedSix = In("six", "model.embed_tokens.weight");
        AssertClose(ModelReader.Read(output, "model.embed_tokens.weight"), embedFour.Select((x, i) => 0.25f * x + 0.75f * embedSix[i]).ToArray());
        AssertClose(ModelReader.Read(output, "model.layers.3.mlp.up_proj.weight"), In("four", "model.layers.3.mlp.up_proj.weight"));
    }

    [Test]
    public void TheTensorsAfterTheLayersTakeAsManyModelsOfTheLastSliceAsTheFirstSliceHas()
    {
        // mergekit zips the last slice's models with one weight per source of the first slice.
        string output = Merge("""
            merge_method: linear
            parameters: {weight: 1}
            slices:
              - sources:
                  - model: six
                    layer_range: [0, 2]
              - sources:
                  - model: four
                    layer_range: [0, 2]
                  - model: six
                    layer_range: [2, 4]
            """);
        Assert.That(ModelReader.Read(output, "lm_head.weight"), Is.EqualTo(In("four", "lm_head.weight")));
        Assert.That(ModelReader.Read(output, "model.norm.weight"), Is.EqualTo(In("four", "model.norm.weight")));
        var four = In("four", "model.layers.0.mlp.up_proj.weight");
        var six = In("six", "model.layers.2.mlp.up_proj.weight");
        AssertClose(ModelReader.Read(output, "model.layers.2.mlp.up_proj.weight"), four.Select((x, i) => (x + six[i]) / 2).ToArray());
    }

    [Test]
    public void OutputConfigIsTheBaseModelsWhenOneIsNamed()
    {
        var cfg = Config(Dir["six"]);
        cfg["rope_theta"] = 1234.0;
        File.WriteAllText(Path.Combine(Dir["six"], "config.json"), cfg.ToJsonString());
        string output = Merge("base_model: six\n" + Stacked.Replace("SCALE", ""));
        Assert.That(Config(output)["rope_theta"]!.GetValue<double>(), Is.EqualTo(1234.0));
        Assert.That(Config(output)["num_hidden_layers"]!.GetValue<int>(), Is.EqualTo(8));
    }

    [Test]
    public void SourcesOfDifferentLengthsAreNamed()
    {
        var (_, err) = MergeFails("""
            merge_method: linear
            parameters: {weight: 1}
            slices:
              - sources:
                  - model: four
                    layer_range: [0, 4]
                  - model: six
                    layer_range: [0, 3]
            """);
        Assert.That(err, Does.Contain("same number of layers").And.Contain("'four' gives 4").And.Contain("'six' gives 3"));
    }

    [Test]
    public void ARangePastTheLastLayerIsNamed()
    {
        var (_, err) = MergeFails(Stacked.Replace("[2, 6]", "[4, 8]").Replace("SCALE", ""));
        Assert.That(err, Does.Contain("[4, 8]").And.Contain("'six'").And.Contain("6 layers"));
    }

    [Test]
    public void PassthroughWithTwoSourcesInASliceIsRefused()
    {
        var (_, err) = MergeFails("""
            merge_method: passthrough
            slices:
              - sources:
                  - model: four
                    layer_range: [0, 2]
                  - model: six
                    layer_range: [0, 2]
            """);
        Assert.That(err, Does.Contain("'passthrough'").And.Contain("exactly one model").And.Contain("'four'").And.Contain("'six'"));
    }
}
