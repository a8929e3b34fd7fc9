using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Moe;

/// <summary>Bad mixture recipes and inputs: a one-line error naming the expert and the key, and nothing written.</summary>
public class MoeBadInputTests
{
    private static readonly string[] A = ["Question: Is the sky blue?"];
    private static readonly string[] B = ["A summary is"];

    private static void AssertRefused(MoeZoo zoo, string recipe, params string[] mustName)
    {
        var (exit, _, err) = CliRunner.Run("moe", zoo.Recipe(recipe), zoo.OutDir, "--quiet");
        Assert.That(exit, Is.Not.Zero);
        string line = err.Trim();
        Assert.That(line.Split('\n'), Has.Length.EqualTo(1), line);
        Assert.That(line, Does.StartWith("llmmerge: error: ").And.Contain("moe.yml"));
        foreach (string s in mustName)
            Assert.That(line, Does.Contain(s));
        Assert.That(Directory.Exists(zoo.OutDir), Is.False, "nothing is written");
        Assert.That(Directory.GetDirectories(zoo.Dir.Path, ".out*"), Is.Empty, "no work folder is left");
    }

    private static string Two(string head = "base_model: base\n", string e0 = "", string e1 = "") =>
        head + "experts:\n" + MoeZoo.ExpertEntry(0, A, extra: e0) + MoeZoo.ExpertEntry(1, B, extra: e1);

    [Test]
    public void AnExpertOfAnotherArchitectureIsNamed()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 2);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(zoo.ExpertDir(1), "config.json")))!;
        config["model_type"] = "qwen2";
        config["architectures"] = new System.Text.Json.Nodes.JsonArray("Qwen2ForCausalLM");
        File.WriteAllText(Path.Combine(zoo.ExpertDir(1), "config.json"), config.ToJsonString());
        AssertRefused(zoo, Two(), "expert 1 (expert-1)", "source_model", "qwen2", "llama");
    }

    [Test]
    public void AnExpertOfAnotherShapeIsNamedWithTheTensor()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 2);
        var wide = new TinyDecoder(zoo.Base.Shape with { Intermediate = 64 }, seed: 9);
        File.Delete(Path.Combine(zoo.ExpertDir(1), "model.safetensors"));
        wide.Write(zoo.ExpertDir(1));
        AssertRefused(zoo, Two(), "expert 1 (expert-1)", "model.layers.0.mlp.gate_proj.weight", "[64, 32]");
    }

    [Test]
    public void AHiddenGateModeWithAnExpertWithoutPromptsIsNamed()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 2);
        string recipe = "base_model: base\ngate_mode: hidden\nexperts:\n" + MoeZoo.ExpertEntry(0, A) + "  - source_model: expert-1\n";
        AssertRefused(zoo, recipe, "expert 1 (expert-1)", "positive_prompts", "hidden");
    }

    [Test]
    public void MoreExpertsPerTokenThanExpertsIsRefused()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 2);
        AssertRefused(zoo, Two("base_model: base\nexperts_per_token: 3\n"), "experts_per_token", "3", "2");
    }

    [Test]
    public void AnUnknownGateModeIsNamed()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 2);
        AssertRefused(zoo, Two("base_model: base\ngate_mode: hiden\n"), "gate_mode", "'hiden'", "hidden_avg");
    }

    [Test]
    public void AnUnknownArchitectureIsNamed()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 2);
        AssertRefused(zoo, Two("base_model: base\narchitecture: grok\n"), "architecture", "'grok'", "mixtral");
    }

    [Test]
    public void ASharedExpertWithMixtralOutputIsNamed()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 3);
        string recipe = Two("base_model: base\narchitecture: mixtral\n") + "shared_experts:\n" + MoeZoo.ExpertEntry(2, ["The cat sat on the mat."]);
        AssertRefused(zoo, recipe, "shared_experts", "shared expert 0 (expert-2)", "Mixtral");
    }

    [Test]
    public void AnUnknownKeyIsNamed()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 2);
        AssertRefused(zoo, Two(e1: "postive_prompts: [x]"), "postive_prompts", "experts[1]");
    }

    [Test]
    public void TheSameModelForEveryExpertNeedsTheFlag()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 2);
        string recipe = "base_model: base\nexperts:\n" + MoeZoo.ExpertEntry(0, A) + MoeZoo.ExpertEntry(0, B);
        AssertRefused(zoo, recipe, "source_model", "expert-0", "--i-understand-this-is-not-useful-without-training");
    }

    [Test]
    public void IdenticalPromptsForEveryExpertAreRefused()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 2);
        string recipe = "base_model: base\nexperts:\n" + MoeZoo.ExpertEntry(0, A) + MoeZoo.ExpertEntry(1, A);
        AssertRefused(zoo, recipe, "prompts are identical");
    }

    [Test]
    public void AQwenOutputWithoutASharedExpertSaysSo()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 2);
        AssertRefused(zoo, Two("base_model: base\narchitecture: qwen\n"), "shared_experts", "exactly one shared expert");
    }

    [Test]
    public void AMissingExpertFolderIsNamed()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 2);
        string recipe = "base_model: base\nexperts:\n" + MoeZoo.ExpertEntry(0, A) + MoeZoo.ExpertEntry(7, B);
        var (exit, _, err) = CliRunner.Run("moe", zoo.Recipe(recipe), zoo.OutDir, "--quiet");
        Assert.That(exit, Is.Not.Zero);
        Assert.That(err, Does.Contain("expert-7"));
        Assert.That(Directory.Exists(zoo.OutDir), Is.False);
    }
}
