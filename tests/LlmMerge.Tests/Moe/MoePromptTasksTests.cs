using LlmMerge.Core;
using LlmMerge.Engine.Moe;
using LlmMerge.Eval.Moe;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Moe;

/// <summary>prompt_tasks in a mixture recipe: task rows' contexts appended to an expert's positive prompts, the key gone.</summary>
public class MoePromptTasksTests
{
    private const string Csv = "id,input,target,answer_choices,eval_type\n"
        + "0,What is 1 plus 2?,0,\"['3', '4']\",multiple_choice\n"
        + "1,What is 5 plus 2?,1,\"['6', '7']\",multiple_choice\n"
        + "2,What is 4 plus 4?,0,\"['8', '9']\",multiple_choice\n";

    [Test]
    public void RowsBecomePositivePromptsAfterTheExpertsOwnUpToTheLimit()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["sums.csv"], Csv);
        string recipe = """
            base_model: base
            experts:
              - source_model: a
                positive_prompts: ["Mine\nfirst"]
                prompt_tasks:
                  - file: sums.csv
                    limit: 2
              - source_model: b
                prompt_tasks: [sums.csv]
            """;
        string text = MoePromptTasks.Expand(recipe, "moe.yml", [dir.Path]);
        var parsed = MoeRecipeParser.Parse(text, "moe.yml");
        Assert.That(parsed.Experts[0].PositivePrompts, Is.EqualTo(new[] { "Mine\nfirst", "What is 1 plus 2?", "What is 5 plus 2?" }));
        Assert.That(parsed.Experts[1].PositivePrompts, Is.EqualTo(new[] { "What is 1 plus 2?", "What is 5 plus 2?", "What is 4 plus 4?" }));
        Assert.That(text, Does.Not.Contain("prompt_tasks"));
    }

    [Test]
    public void ARecipeWithoutPromptTasksIsLeftAsWritten()
    {
        const string recipe = "base_model: base # the base\nexperts:\n  - source_model: a\n    positive_prompts: [x]\n";
        Assert.That(MoePromptTasks.Expand(recipe, "moe.yml", ["."]), Is.EqualTo(recipe));
    }

    [TestCase("prompt_tasks: [missing.csv]", "missing.csv")]
    [TestCase("prompt_tasks: [{file: sums.csv, limit: 0}]", "limit")]
    [TestCase("prompt_tasks: [{file: sums.csv, rows: 2}]", "unknown key 'rows'")]
    [TestCase("prompt_tasks: sums.csv", "must be a list")]
    public void BadEntriesNameTheExpertAndTheKey(string entry, string mustName)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["sums.csv"], Csv);
        string recipe = $"base_model: base\nexperts:\n  - source_model: a\n    {entry}\n";
        var e = Assert.Throws<LlmMergeException>(() => MoePromptTasks.Expand(recipe, "moe.yml", [dir.Path]))!;
        Assert.That(e.Message, Does.StartWith("moe.yml").And.Contain("experts[0].prompt_tasks").And.Contain(mustName));
    }
}
