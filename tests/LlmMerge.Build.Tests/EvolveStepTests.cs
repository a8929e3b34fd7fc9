using System.Text.Json.Nodes;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>
/// An EvolveStep in a graph: its model is the search's final_model (evaluated like any step's), a second build runs
/// nothing, and a larger MaxFevals reruns the step, which replays its stored candidates and scores only new ones.
/// </summary>
public sealed class EvolveStepTests
{
    private const string Graph = """
          <PropertyGroup>
            <Fevals Condition="'$(Fevals)' == ''">4</Fevals>
          </PropertyGroup>
          <ItemGroup>
            <Expert Include="base" Path="models/base" />
            <Expert Include="expert-a" Path="models/expert-a" />
            <Expert Include="expert-b" Path="models/expert-b" />
            <EvolveStep Include="search" Genome="genome.yml" MaxFevals="$(Fevals)" Seed="3" Popsize="4" />
            <Evaluation Include="held-out" Models="search" Tasks="tasks/arithmetic_test.csv" />
          </ItemGroup>
        """;

    private const string Genome = """
        genome:
          models: [expert-a, expert-b]
          merge_method: ties
          base_model: base
          layer_granularity: 2
        tasks:
          - name: tasks/arithmetic_validation.csv
        limit: 3
        """;

    [Test]
    public void ASearchStepRunsOnceAndALargerBudgetScoresOnlyNewCandidates()
    {
        using var folder = new GraphFolder();
        folder.Write("genome.yml", Genome);
        Directory.CreateDirectory(Path.Combine(folder.Dir, "tasks"));
        foreach (string split in new[] { "validation", "test" })
            File.Copy(Path.Combine(Repo.Root, "tasks", "arithmetic", $"arithmetic_{split}.csv"), Path.Combine(folder.Dir, "tasks", $"arithmetic_{split}.csv"), overwrite: true);
        string project = folder.Project("graph", Graph);

        BuildResult first = folder.Build(project);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(first.StepsRan, Is.EqualTo(new[] { "search" }), first.ToString());
        string storage = folder.Artifacts(project, "search");
        Assert.That(File.Exists(Path.Combine(storage, "final_model", "model.safetensors")), first.ToString());
        Assert.That(File.ReadAllText(folder.Artifacts(project, "report.md")), Does.Contain("| search |"), "the search's model is scored and reported");
        JsonNode Search() => JsonNode.Parse(File.ReadAllText(Path.Combine(storage, "search.json")))!;
        // popsize 4, max 4: two generations (8), then the final mean.
        Assert.That((int)Search()["evaluations"]!, Is.EqualTo(9));
        Assert.That((int)Search()["random_seed"]!, Is.EqualTo(3));

        BuildResult second = folder.Build(project);
        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        Assert.That(second.StepsRan, Is.Empty, second.ToString());

        BuildResult more = folder.Build(project, "-p:Fevals=8");
        Assert.That(more.ExitCode, Is.Zero, more.ToString());
        Assert.That(more.StepsRan, Is.EqualTo(new[] { "search" }), more.ToString());
        // Three generations now (12) and the final mean: the first two generations come from candidates.jsonl.
        Assert.That((int)Search()["evaluations"]!, Is.EqualTo(13));
        Assert.That((int)Search()["stored_this_run"]!, Is.EqualTo(8));
        Assert.That((int)Search()["scored_this_run"]!, Is.EqualTo(5));
    }
}
