using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling;
using LlmMerge.TestFixtures;
using LlmMerge.Tests.Modeling;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

/// <summary>
/// Experts and adapters stored as torch.save checkpoints (.bin) merge, adapt and evaluate exactly as the same weights
/// in safetensors do: each recipe runs twice, on the safetensors folders and on .bin copies of them, and the outputs'
/// weight files must be the same bytes.
/// </summary>
public class PyTorchBinTests : MergeTestBase
{
    private const string Ties = """
        merge_method: ties
        base_model: {BASE}
        parameters: {density: 0.5, normalize: true}
        models:
          - model: {A}
            parameters: {weight: [0.7, 0.2]}
          - model: {B}
            parameters: {weight: 0.5}
        """;

    private string MergeOutput(string yaml, string output)
    {
        string recipe = Dir[output + ".yml"];
        File.WriteAllText(recipe, yaml);
        var (exit, _, err) = CliRunner.Run("merge", recipe, Dir[output], "--quiet");
        Assert.That(exit, Is.EqualTo(0), err);
        return Dir[output];
    }

    private static string Recipe(string template, string @base, string a, string b, string lora = "") =>
        template.Replace("{BASE}", @base).Replace("{A}", a).Replace("{B}", b).Replace("{LORA}", lora);

    private static void AssertSameWeights(string expected, string actual)
    {
        var want = Directory.GetFiles(expected, "*.safetensors").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        var got = Directory.GetFiles(actual, "*.safetensors").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        Assert.That(got, Is.EqualTo(want), "outputs stay safetensors, sharded alike");
        Assert.That(Directory.GetFiles(actual, "*.bin"), Is.Empty);
        foreach (string file in want)
            Assert.That(File.ReadAllBytes(Path.Combine(actual, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(expected, file))), file);
    }

    [TestCase(TorchSaveWriter.Layout.Separate, 1)]
    [TestCase(TorchSaveWriter.Layout.SharedStorage, 1)]
    [TestCase(TorchSaveWriter.Layout.Transposed, 1)]
    [TestCase(TorchSaveWriter.Layout.Separate, 3)]
    public void BinExperts_MergeToTheSameBytesAsTheirSafetensors(TorchSaveWriter.Layout layout, int shards)
    {
        foreach (string m in new[] { "base", "a", "b" })
            TorchSaveWriter.ConvertFolder(Dir[m], Dir[m + "-bin"], layout, shards);
        Assert.That(Directory.GetFiles(Dir["a-bin"], "*.safetensors"), Is.Empty);

        string fromSafetensors = MergeOutput(Recipe(Ties, "base", "a", "b"), "out-st");
        string fromBin = MergeOutput(Recipe(Ties, "base-bin", "a-bin", "b-bin"), "out-bin");

        AssertSameWeights(fromSafetensors, fromBin);
    }

    [Test]
    public void Bf16BinExperts_AndAMixOfFormats_MergeToTheSameBytes()
    {
        Fixtures.Model(4, dtype: SafetensorsDType.BF16).Write(Dir["c"]);
        Fixtures.Model(5, dtype: SafetensorsDType.BF16).Write(Dir["d"]);
        TorchSaveWriter.ConvertFolder(Dir["c"], Dir["c-bin"], TorchSaveWriter.Layout.Transposed, configure: w => w.AsParameters = true);
        TorchSaveWriter.ConvertFolder(Dir["d"], Dir["d-bin"], configure: w => w.OrderedDict = false);
        const string linear = "merge_method: linear\nmodels:\n  - model: {A}\n    parameters: {weight: 0.3}\n  - model: {B}\n    parameters: {weight: 0.9}\n";

        string fromSafetensors = MergeOutput(Recipe(linear, "", "c", "d"), "out-st");
        string mixed = MergeOutput(Recipe(linear, "", "c-bin", "d"), "out-mixed");

        Assert.That(ModelReader.Info(mixed, "model.norm.weight").DType, Is.EqualTo(SafetensorsDType.BF16));
        AssertSameWeights(fromSafetensors, mixed);
        AssertSameWeights(fromSafetensors, MergeOutput(Recipe(linear, "", "c-bin", "d-bin"), "out-bin"));
    }

    private TinyAdapter Adapter()
    {
        var adapter = new TinyAdapter(2, 4, baseModel: "base", targets: ["q_proj", "up_proj"]);
        for (int i = 0; i < 2; i++)
        {
            adapter.Add($"model.layers.{i}.self_attn.q_proj", Fixtures.Hidden, Fixtures.Hidden, 500 + i * 10);
            adapter.Add($"model.layers.{i}.mlp.up_proj", 3, Fixtures.Hidden, 600 + i * 10);
        }
        return adapter;
    }

    [Test]
    public void TwoBinExperts_AndABinLoraAdapter_MergeFromTheCommandLine_AsTheirSafetensorsDo()
    {
        // The acceptance case: `llmmerge merge` on pytorch_model.bin experts and an adapter_model.bin adapter.
        Adapter().Write(Dir["lora"]);
        foreach (string m in new[] { "base", "a", "b", "lora" })
            TorchSaveWriter.ConvertFolder(Dir[m], Dir[m + "-bin"], TorchSaveWriter.Layout.SharedStorage);
        Assert.That(File.Exists(Dir["lora-bin/adapter_model.bin"]), Is.True);
        // The adapter names its base as "base"; the .bin copy's base is the .bin base, given as BASE+ADAPTER.
        const string recipe = """
            merge_method: task_arithmetic
            base_model: {BASE}
            models:
              - model: {A}
                parameters: {weight: 0.6}
              - model: {B}
                parameters: {weight: 0.4}
            """;
        const string adapter = "\n  - model: {BASE}+{LORA}\n    parameters: {weight: 0.8}\n";

        string fromSafetensors = MergeOutput(Recipe(recipe + adapter, "base", "a", "b", "lora"), "out-st");
        string fromBin = MergeOutput(Recipe(recipe + adapter, "base-bin", "a-bin", "b-bin", "lora-bin"), "out-bin");

        AssertSameWeights(fromSafetensors, fromBin);
        // And the adapter really took part: without it the merge differs.
        string without = MergeOutput(Recipe(recipe, "base", "a", "b"), "out-without");
        Assert.That(ModelReader.Read(without, "model.layers.0.self_attn.q_proj.weight"), Is.Not.EqualTo(ModelReader.Read(fromBin, "model.layers.0.self_attn.q_proj.weight")));
    }

    [Test]
    public void ABinAdapterFolderNamingItsBase_IsAModelOfItsOwn()
    {
        Adapter().Write(Dir["lora"]);
        TorchSaveWriter.ConvertFolder(Dir["lora"], Dir["lora-bin"]);
        const string linear = "merge_method: linear\nmodels:\n  - model: {A}\n    parameters: {weight: 1}\n  - model: a\n    parameters: {weight: 1}\n";

        AssertSameWeights(MergeOutput(Recipe(linear, "", "lora", ""), "out-st"), MergeOutput(Recipe(linear, "", "lora-bin", ""), "out-bin"));
    }

    [Test]
    public void ABinModel_EvaluatesToTheSameScoresAsItsSafetensors()
    {
        var tiny = new TinyDecoder(ForwardPassTests.LlamaShape(), seed: 7);
        tiny.Write(Dir["decoder"]);
        TorchSaveWriter.ConvertFolder(Dir["decoder"], Dir["decoder-bin"], TorchSaveWriter.Layout.Transposed);
        int[] context = [3, 17, 5, 29, 11];
        int[][] choices = [[7], [12, 33, 1], [39, 0]];

        using var fromSafetensors = CausalLmLoader.Load(Dir["decoder"]);
        using var fromBin = CausalLmLoader.Load(Dir["decoder-bin"]);
        var want = fromSafetensors.ScoreContinuations(context, choices).Select(s => s.LogLikelihood).ToList();
        var got = fromBin.ScoreContinuations(context, choices).Select(s => s.LogLikelihood).ToList();

        Assert.That(got, Is.EqualTo(want));
        var reference = new ReferenceDecoder(tiny);
        for (int i = 0; i < choices.Length; i++)
            Assert.That(got[i], Is.EqualTo(reference.LogLikelihood(context, choices[i])).Within(1e-4 * Math.Max(1, Math.Abs(got[i]))), $"choice {i}");
    }

    [Test]
    public void ASafetensorsFileWinsOverABinBesideIt_AsTransformersPrefersIt()
    {
        TorchSaveWriter.ConvertFolder(Dir["a"], Dir["both"]);
        File.Copy(Path.Combine(Dir["b"], "model.safetensors"), Path.Combine(Dir["both"], "model.safetensors"));

        Assert.That(ModelReader.Read(Dir["both"], "lm_head.weight"), Is.EqualTo(In("b", "lm_head.weight")));
    }

    [Test]
    public void ACorruptBinExpert_FailsTheMergeWithOneLineNamingTheFile()
    {
        TorchSaveWriter.ConvertFolder(Dir["a"], Dir["a-bin"]);
        string bin = Path.Combine(Dir["a-bin"], "pytorch_model.bin");
        byte[] bytes = File.ReadAllBytes(bin);
        File.WriteAllBytes(bin, bytes[..(bytes.Length - 30)]);

        var (_, err) = MergeFails(Recipe(Ties, "base", "a-bin", "b"));

        Assert.That(err, Does.Contain(bin).And.Contain("truncated"));
        Assert.That(Directory.Exists(Dir["out"]), Is.False, "no output");
    }
}
