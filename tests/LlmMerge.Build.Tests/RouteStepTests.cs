using System.Text.Json.Nodes;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>
/// RouteStep: a router over the graph's experts is built by `llmmerge route`, scored, reported and published like a
/// model, and incremental as merges are: editing a validation file routes again, nothing else does.
/// </summary>
public sealed class RouteStepTests
{
    // The first rows of the zoo's own splits, so the experts are good at their skill and the graph stays quick.
    private static string Head(string skill, string split, int rows) =>
        string.Join('\n', CsvRows(Path.Combine(Repo.Root, "tasks", skill, $"{skill}_{split}.csv"), rows));

    // A competition CSV's header and first rows (a row's input spans two lines, so rows end at ",multiple_choice").
    private static IEnumerable<string> CsvRows(string file, int rows)
    {
        var lines = File.ReadAllLines(file);
        yield return lines[0];
        int taken = 0;
        var row = new List<string>();
        foreach (string line in lines.Skip(1))
        {
            row.Add(line);
            if (!line.EndsWith(",multiple_choice", StringComparison.Ordinal)) continue;
            yield return string.Join('\n', row);
            row.Clear();
            if (++taken == rows) yield break;
        }
    }

    [Test]
    public void ARouterIsBuiltScoredReportedAndPublishedLikeAModel()
    {
        using var folder = new GraphFolder();
        foreach (string skill in new[] { "arithmetic", "comparison" })
        {
            folder.Write($"tasks/{skill}_validation.csv", Head(skill, "validation", 12) + "\n");
            folder.Write($"tasks/{skill}_test.csv", Head(skill, "test", 12) + "\n");
        }
        string project = folder.Project("routes", """
              <ItemGroup>
                <Expert Include="base" Path="models/base" />
                <Expert Include="expert-a" Path="models/expert-a" />
                <Expert Include="expert-b" Path="models/expert-b" />
                <RouteStep Include="by-task" Routing="task" BaseModel="base" Models="expert-a;expert-b" Publish="true"
                           Validation="arithmetic_test=tasks/arithmetic_validation.csv;comparison_test=tasks/comparison_validation.csv" />
                <RouteStep Include="by-query" BaseModel="base" Models="expert-a;expert-b" PromptLimit="8"
                           PromptTasks="expert-a=tasks/arithmetic_validation.csv;expert-b=tasks/comparison_validation.csv" />
                <Evaluation Include="held-out" Models="expert-a;expert-b;by-task;by-query" Tasks="tasks/arithmetic_test.csv;tasks/comparison_test.csv" />
              </ItemGroup>
            """);
        BuildResult first = folder.Build(project);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(first.StepsRan, Is.EquivalentTo(new[] { "by-task", "by-query" }), first.ToString());
        var router = JsonNode.Parse(File.ReadAllText(folder.Artifacts(project, "by-task", "router.json")))!;
        Assert.That(router["tasks"]!["arithmetic_test"]!["expert"]!.GetValue<string>(), Is.EqualTo("expert-a"));
        Assert.That(router["tasks"]!["comparison_test"]!["expert"]!.GetValue<string>(), Is.EqualTo("expert-b"));

        string report = File.ReadAllText(folder.Artifacts(project, "report.md"));
        Assert.That(report, Does.Contain("| by-task | step (route (task)) |"));
        Assert.That(report, Does.Contain("## Routing").And.Contain("| by-task | arithmetic_test | expert-a 12 (100.0 %) |"));
        var results = JsonNode.Parse(File.ReadAllText(folder.Artifacts(project, "results.json")))!;
        Assert.That(results["models"]!["by-task"]!["arithmetic_test"]!.GetValue<double>(), Is.EqualTo(results["models"]!["expert-a"]!["arithmetic_test"]!.GetValue<double>()),
            "a task router scores as the expert it chose");

        BuildResult again = folder.Build(project);
        Assert.That(again.Log, Does.Contain("LlmMerge: nothing to do"), again.ToString());

        // A changed validation split reroutes the task router (and rescores it); the query router reads it too.
        File.AppendAllText(Path.Combine(folder.Dir, "tasks", "comparison_validation.csv"), string.Join('\n', CsvRows(Path.Combine(Repo.Root, "tasks", "comparison", "comparison_validation.csv"), 13).Skip(13)) + "\n");
        BuildResult edited = folder.Build(project);
        Assert.That(edited.ExitCode, Is.Zero, edited.ToString());
        Assert.That(edited.StepsRan, Is.EquivalentTo(new[] { "by-task", "by-query" }), edited.ToString());

        BuildResult publish = folder.Build(project, "-t:Publish");
        Assert.That(publish.ExitCode, Is.Zero, publish.ToString());
        string package = folder.Artifacts(project, "publish", "by-task");
        Assert.That(File.Exists(Path.Combine(package, "router.json")), "the package holds the router");
        Assert.That(File.Exists(Path.Combine(package, "model.safetensors")), Is.False, "and references its experts instead of holding them");
        Assert.That(File.ReadAllText(Path.Combine(package, "README.md")), Does.Contain("experts/<name>/").And.Contain("expert-a"));
    }
}
