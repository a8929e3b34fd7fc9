using System.Text.Json.Nodes;
using LlmMerge.Core;
using LlmMerge.Modeling;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Modeling;

/// <summary>Bad model folders and bad token sequences fail with messages that name what is wrong.</summary>
public class ForwardPassErrorTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void MakeDir() => _dir = new TempDir();

    [TearDown]
    public void Clean() => _dir.Dispose();

    private string Write(Action<JsonObject, Dictionary<string, (long[] Shape, float[] Values)>> edit, TinyDecoderShape? shape = null) =>
        new TinyDecoder(shape ?? ForwardPassTests.LlamaShape(), seed: 1).Write(_dir["model"], edit: edit);

    [Test]
    public void AnUnsupportedArchitectureListsTheSupportedOnes()
    {
        string dir = Write((c, _) => c["architectures"] = new JsonArray("GPTNeoXForCausalLM"));
        var e = Assert.Throws<LlmMergeException>(() => CausalLmLoader.Load(dir));
        Assert.That(e!.Message, Does.Contain("GPTNeoXForCausalLM").And.Contain("LlamaForCausalLM").And.Contain("MistralForCausalLM").And.Contain("Qwen2ForCausalLM").And.Contain("GemmaForCausalLM").And.Contain("Phi3ForCausalLM").And.Contain("config.json"));
    }

    [Test]
    public void AMissingWeightNamesTheTensorAndTheFile()
    {
        string dir = Write((_, w) => w.Remove("model.layers.1.mlp.up_proj.weight"));
        var e = Assert.Throws<LlmMergeException>(() => CausalLmLoader.Load(dir));
        Assert.That(e!.Message, Does.Contain("model.layers.1.mlp.up_proj.weight").And.Contain("model.safetensors").And.Contain("missing"));
    }

    [Test]
    public void AMissingLmHeadOfAnUntiedModelIsAnError()
    {
        string dir = Write((_, w) => w.Remove("lm_head.weight"));
        var e = Assert.Throws<LlmMergeException>(() => CausalLmLoader.Load(dir));
        Assert.That(e!.Message, Does.Contain("lm_head.weight"));
    }

    [Test]
    public void AMisShapedWeightNamesTheTensorTheFileAndBothShapes()
    {
        string dir = Write((_, w) => w["model.layers.0.self_attn.k_proj.weight"] = ([32, 32], new float[32 * 32]));
        var e = Assert.Throws<LlmMergeException>(() => CausalLmLoader.Load(dir));
        Assert.That(e!.Message, Does.Contain("model.layers.0.self_attn.k_proj.weight").And.Contain("model.safetensors").And.Contain("[32, 32]").And.Contain("[16, 32]"));
    }

    [Test]
    public void AMissingConfigKeyIsNamed()
    {
        string dir = Write((c, _) => c.Remove("intermediate_size"));
        var e = Assert.Throws<LlmMergeException>(() => CausalLmLoader.Load(dir));
        Assert.That(e!.Message, Does.Contain("intermediate_size").And.Contain("config.json"));
    }

    [Test]
    public void HeadsThatDoNotGroupAreAnError()
    {
        string dir = Write((c, _) => c["num_key_value_heads"] = 3);
        var e = Assert.Throws<LlmMergeException>(() => CausalLmLoader.Load(dir));
        Assert.That(e!.Message, Does.Contain("num_key_value_heads"));
    }

    [Test]
    public void AnUnsupportedRopeScalingIsNamed()
    {
        string dir = Write((c, _) => c["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0 });
        var e = Assert.Throws<LlmMergeException>(() => CausalLmLoader.Load(dir));
        Assert.That(e!.Message, Does.Contain("yarn").And.Contain("llama3"));
    }

    [Test]
    public void PartialRotaryEmbeddingsAreNamed()
    {
        string dir = Write((c, _) => c["partial_rotary_factor"] = 0.75);
        var e = Assert.Throws<LlmMergeException>(() => CausalLmLoader.Load(dir));
        Assert.That(e!.Message, Does.Contain("partial_rotary_factor"));
    }

    [Test]
    public void AnUnsupportedDtypeOrDeviceIsNamed()
    {
        string dir = Write((_, _) => { });
        Assert.That(Assert.Throws<LlmMergeException>(() => CausalLmLoader.Load(dir, dtype: "int8"))!.Message, Does.Contain("int8"));
        Assert.That(Assert.Throws<LlmMergeException>(() => CausalLmLoader.Load(dir, device: "tpu"))!.Message, Does.Contain("tpu"));
    }

    [Test]
    public void BadTokenSequencesAreRejected()
    {
        using var model = CausalLmLoader.Load(Write((_, _) => { }));
        Assert.Throws<ArgumentException>(() => model.ScoreContinuations([], [[1]]));
        Assert.Throws<ArgumentException>(() => model.ScoreContinuations([1], [[2], []]));
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => model.ScoreContinuations([1, 40], [[2]]));
        Assert.That(outside!.Message, Does.Contain("40").And.Contain("vocabulary"));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ScoreContinuations([1], [[-1]]));
        var tooLong = Assert.Throws<ArgumentException>(() => model.ScoreContinuations(new int[60], [new int[5]]));
        Assert.That(tooLong!.Message, Does.Contain("64"));
        Assert.Throws<ArgumentException>(() => model.GenerateGreedy([], 3, new HashSet<int>()));
        Assert.Throws<ArgumentException>(() => model.GenerateGreedy(new int[64], 3, new HashSet<int>()));
        Assert.That(model.ScoreContinuations([1], []), Is.Empty);
    }
}
