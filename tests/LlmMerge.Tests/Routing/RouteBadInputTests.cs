using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Routing;

/// <summary>What <c>llmmerge route</c> refuses: one line on standard error naming the expert, task or key, exit 1, and no output folder.</summary>
public class RouteBadInputTests
{
    private static void AssertRefused(RoutingFixture f, string yaml, params string[] mentions)
    {
        string config = f.WriteConfig("router.yml", yaml);
        var (exit, _, err) = CliRunner.Run("route", config, f["router"], "--quiet");
        Assert.That(exit, Is.EqualTo(1), err);
        Assert.That(err.Trim().Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(err, Does.StartWith("llmmerge: error: "));
        foreach (string m in mentions)
            Assert.That(err, Does.Contain(m));
        Assert.That(Directory.Exists(f["router"]), Is.False, "nothing written");
        Assert.That(Directory.GetDirectories(f.Dir.Path).Where(d => Path.GetFileName(d).StartsWith(".router", StringComparison.Ordinal)), Is.Empty, "no work folder left");
    }

    private const string TwoExperts = """
        base_model: models/base
        experts:
          - source_model: models/alpha
            positive_prompts: ["Is the sky blue?"]
          - source_model: models/beta
            positive_prompts: ["The cat sat on the mat."]
        """;

    [Test]
    public void UnknownKeysAreNamed()
    {
        using var f = new RoutingFixture(2);
        AssertRefused(f, TwoExperts + "\nrouting_mode: query\n", "unknown key 'routing_mode'", "router.yml:");
        AssertRefused(f, TwoExperts.Replace("    positive_prompts: [\"Is the sky blue?\"]", "    positive_prompt: [\"Is the sky blue?\"]", StringComparison.Ordinal), "expert 0", "unknown key 'positive_prompt'");
        AssertRefused(f, TwoExperts + "\nshared_experts: []\n", "'shared_experts'", "llmmerge moe");
        AssertRefused(f, TwoExperts.Replace("base_model: models/base", "base_model: models/base\ngate_mode: random", StringComparison.Ordinal), "gate_mode 'random'");
    }

    [Test]
    public void AnExpertOfAnotherArchitectureIsRefusedForQueryRoutingOnly()
    {
        using var f = new RoutingFixture(2);
        f.AddModel("beta", 3, f.Shape with { Architecture = "MistralForCausalLM", ModelType = "mistral" });
        AssertRefused(f, TwoExperts, "expert 'beta'", "MistralForCausalLM", "query routing");

        string config = f.WriteConfig("task.yml", """
            base_model: models/base
            routing: task
            experts:
              - source_model: models/alpha
              - source_model: models/beta
            validation:
              alpha: tasks/alpha.csv
            """);
        var (exit, _, err) = CliRunner.Run("route", config, f["task-router"], "--quiet");
        Assert.That(exit, Is.EqualTo(0), "task routing takes an expert of another architecture when it tokenizes alike: " + err);
    }

    [Test]
    public void AnExpertWithAnotherTokenizerIsRefused()
    {
        using var f = new RoutingFixture(2);
        File.WriteAllText(Path.Combine(f.ModelDir("beta"), "tokenizer.json"), File.ReadAllText(Path.Combine(f.ModelDir("beta"), "tokenizer.json")).Replace("\"Question\"", "\"Quest1on\"", StringComparison.Ordinal));
        AssertRefused(f, TwoExperts, "expert 'beta'", "tokenizer");
    }

    [Test]
    public void APromptThatTokenizesToNothingIsNamed()
    {
        using var f = new RoutingFixture(2);
        AssertRefused(f, TwoExperts.Replace("[\"The cat sat on the mat.\"]", "[\"The cat sat on the mat.\", \"\"]", StringComparison.Ordinal), "expert 'beta'", "positive prompt 1", "tokenizes to nothing");
        AssertRefused(f, TwoExperts.Replace("    positive_prompts: [\"Is the sky blue?\"]", "    positive_prompts: []", StringComparison.Ordinal), "expert 'alpha'", "no positive prompts");
    }

    [Test]
    public void TaskRoutingNeedsAValidationMapOfExistingFiles()
    {
        using var f = new RoutingFixture(2);
        AssertRefused(f, TwoExperts.Replace("base_model: models/base", "base_model: models/base\nrouting: task", StringComparison.Ordinal), "routing: task needs 'validation'");
        AssertRefused(f, TwoExperts.Replace("base_model: models/base", "base_model: models/base\nrouting: task\nvalidation:\n  alpha: tasks/nope.csv", StringComparison.Ordinal), "task 'alpha'", "tasks/nope.csv");
    }

    [Test]
    public void ArrowTakesLoraAdaptersOfTheBaseOnly()
    {
        using var f = new RoutingFixture(2);
        AssertRefused(f, TwoExperts.Replace("base_model: models/base", "base_model: models/base\ngate_mode: arrow", StringComparison.Ordinal), "expert 'alpha'", "not a LoRA adapter");
    }

    [Test]
    public void AMissingExpertIsNamed()
    {
        using var f = new RoutingFixture(2);
        AssertRefused(f, TwoExperts.Replace("models/beta", "models/gamma", StringComparison.Ordinal), "expert 'gamma'", "models/gamma");
    }
}
