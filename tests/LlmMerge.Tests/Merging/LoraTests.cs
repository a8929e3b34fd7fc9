using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

/// <summary>LoRA adapters as merge inputs, checked against full models the test writes out with plain loops.</summary>
public class LoraTests : MergeTestBase
{
    private const int Layers = 2;

    private TinyAdapter _rank8 = null!;
    private TinyAdapter _rank16 = null!;

    [SetUp]
    public void MakeAdapters()
    {
        _rank8 = new TinyAdapter(8, 16, targets: ["q_proj", "up_proj"]);
        _rank16 = new TinyAdapter(16, 8, rsLora: true, baseModel: "base", targets: ["q_proj"]);
        for (int i = 0; i < Layers; i++)
        {
            _rank8.Add($"model.layers.{i}.self_attn.q_proj", Fixtures.Hidden, Fixtures.Hidden, 100 + i * 10);
            _rank8.Add($"model.layers.{i}.mlp.up_proj", 3, Fixtures.Hidden, 200 + i * 10);
            _rank16.Add($"model.layers.{i}.self_attn.q_proj", Fixtures.Hidden, Fixtures.Hidden, 300 + i * 10);
        }
        _rank8.Write(Dir["lora8"]);
        _rank16.Write(Dir["lora16"]);
    }

    /// <summary>The adapter merged into the base by hand, written as an ordinary model folder.</summary>
    private void WriteFull(TinyAdapter adapter, string name)
    {
        var m = new TinyModel().Layers(Layers);
        foreach (var t in Fixtures.Names(Layers))
        {
            var shape = Fixtures.ShapeOf(t);
            m.Add(t, shape, adapter.Apply(t, shape, In("base", t)));
        }
        m.Write(Dir[name]);
    }

    private string MergeTo(string yaml, string output)
    {
        string recipe = Dir["recipe.yml"];
        File.WriteAllText(recipe, yaml);
        var (exit, _, err) = CliRunner.Run("merge", recipe, Dir[output], "--quiet");
        Assert.That(exit, Is.EqualTo(0), err);
        return Dir[output];
    }

    private const string TwoAdapters = """
        merge_method: ties
        base_model: base
        parameters: {density: 0.6}
        models:
          - model: FIRST
            parameters: {weight: 0.7}
          - model: SECOND
            parameters: {weight: 0.5}
        """;

    [Test]
    public void AdaptersOfRanks8And16MergeAsTheirWrittenOutFullModels()
    {
        WriteFull(_rank8, "full8");
        WriteFull(_rank16, "full16");
        string viaLora = MergeTo(TwoAdapters.Replace("FIRST", "base+lora8").Replace("SECOND", "base+lora16"), "out-lora");
        string viaFull = MergeTo(TwoAdapters.Replace("FIRST", "full8").Replace("SECOND", "full16"), "out-full");
        foreach (var t in Fixtures.Names(Layers))
            AssertClose(ModelReader.Read(viaLora, t), ModelReader.Read(viaFull, t), 1e-5, t);
        Assert.That(ModelReader.Read(viaLora, "model.layers.1.self_attn.q_proj.weight"), Is.Not.EqualTo(In("base", "model.layers.1.self_attn.q_proj.weight")));
    }

    [Test]
    public void AnAdapterReadsAsWPlusScaledBA()
    {
        // linear over one model returns that model: the output is the adapted base itself.
        string output = MergeTo("merge_method: linear\nmodels:\n  - model: base+lora8\n    parameters: {weight: 1}\n", "out");
        foreach (var t in Fixtures.Names(Layers))
            AssertClose(ModelReader.Read(output, t), _rank8.Apply(t, Fixtures.ShapeOf(t), In("base", t)), 1e-5, t);
        Assert.That(File.ReadAllText(Path.Combine(output, "config.json")), Does.Contain("LlamaForCausalLM"), "the base's config");
    }

    [Test]
    public void AnAdapterFolderNamingItsBaseIsAModel()
    {
        string output = MergeTo("merge_method: linear\nmodels:\n  - model: lora16\n    parameters: {weight: 1}\n", "out");
        const string q = "model.layers.0.self_attn.q_proj.weight";
        AssertClose(ModelReader.Read(output, q), _rank16.Apply(q, Fixtures.ShapeOf(q), In("base", q)), 1e-5, "rsLoRA scale alpha/sqrt(r)");
    }

    [Test]
    public void FanInFanOutTransposesTheUpdate()
    {
        var conv = new TinyAdapter(2, 4, fanInFanOut: true, targets: ["up_proj"]);
        // A Conv1D-style base stores [in, out]: our fixture's up_proj is [3, 4], read here as in = 3, out = 4.
        conv.Add("model.layers.1.mlp.up_proj", 3, Fixtures.Hidden, 400).Write(Dir["conv"]);
        string output = MergeTo("merge_method: linear\nmodels:\n  - model: base+conv\n    parameters: {weight: 1}\n", "out");
        const string up = "model.layers.1.mlp.up_proj.weight";
        AssertClose(ModelReader.Read(output, up), conv.Apply(up, Fixtures.ShapeOf(up), In("base", up)), 1e-5, up);
    }

    [Test]
    public void ATargetModuleMissingFromTheBaseIsNamed()
    {
        var bad = new TinyAdapter(4, 8, targets: ["q_proj", "k_proj"]);
        bad.Add("model.layers.0.self_attn.q_proj", Fixtures.Hidden, Fixtures.Hidden, 500).Write(Dir["badlora"]);
        var (_, err) = MergeFails("merge_method: linear\nmodels:\n  - model: base+badlora\n    parameters: {weight: 1}\n");
        Assert.That(err, Does.Contain("adapter 'badlora'").And.Contain("'k_proj'").And.Contain("base model 'base'"));
    }

    [Test]
    public void AnAdaptedWeightMissingFromTheBaseIsNamed()
    {
        var bad = new TinyAdapter(4, 8, targets: ["q_proj"]);
        bad.Add("model.layers.7.self_attn.q_proj", Fixtures.Hidden, Fixtures.Hidden, 600).Write(Dir["badlora"]);
        var (_, err) = MergeFails("merge_method: linear\nmodels:\n  - model: base+badlora\n    parameters: {weight: 1}\n");
        Assert.That(err, Does.Contain("adapter 'badlora'").And.Contain("model.layers.7.self_attn.q_proj").And.Contain("base model 'base'"));
    }

    [Test]
    public void AnAdapterWhoseShapeDoesNotFitItsBaseIsNamed()
    {
        var bad = new TinyAdapter(4, 8, targets: ["up_proj"]);
        bad.Add("model.layers.0.mlp.up_proj", 5, Fixtures.Hidden, 700).Write(Dir["badlora"]);
        var (_, err) = MergeFails("merge_method: linear\nmodels:\n  - model: base+badlora\n    parameters: {weight: 1}\n");
        Assert.That(err, Does.Contain("adapter 'badlora'").And.Contain("[5, 4]").And.Contain("[3, 4]"));
    }

    [Test]
    public void AnAdapterFolderWithoutItsBaseSaysHowToNameIt()
    {
        new TinyAdapter(4, 8, targets: ["q_proj"]).Add("model.layers.0.self_attn.q_proj", Fixtures.Hidden, Fixtures.Hidden, 800).Write(Dir["orphan"]);
        var (_, err) = MergeFails("merge_method: linear\nmodels:\n  - model: orphan\n    parameters: {weight: 1}\n");
        Assert.That(err, Does.Contain("base_model_name_or_path").And.Contain("BASE+orphan"));
    }
}
