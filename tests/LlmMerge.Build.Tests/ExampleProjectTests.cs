using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>The repository's example graphs evaluate and pass the graph checks.</summary>
public sealed class ExampleProjectTests
{
    [Test]
    public void TheCompetitionGraphWithHubExpertsParsesAndValidatesOffline()
    {
        // ValidateGraph reads and checks the graph (names, methods, parameters, the recipe file) and lists what it
        // would fetch, without the network.
        BuildResult result = DotnetBuild.Run(Path.Combine(Repo.Root, "merges", "competition.proj"), ["-t:ValidateGraph", "-p:LlmMergeBuildTools=false"]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Log, Does.Contain("graph competition: 4 experts, 3 steps"));
        Assert.That(result.Log, Does.Contain("Qwen/Qwen2.5-7B-Instruct@main"));
    }

    [Test]
    public void TheDemoGraphHasTwoStepsOneIndependentOfTiesWithDensityFromItsProperty()
    {
        // The tool build of the whole run went through demo.proj's ValidateGraph with LlmMergeBuildTools on; doing
        // it again at once must not trip over a file the first build left locked or loaded.
        Assert.That(ToolsSetup.First!.Log, Does.Contain("graph demo: 8 experts, 8 steps"));
        BuildResult again = DotnetBuild.Run(Path.Combine(Repo.Root, "merges", "demo.proj"), ["-t:ValidateGraph"]);
        Assert.That(again.ExitCode, Is.Zero, again.ToString());
        BuildResult items = DotnetBuild.Run(Path.Combine(Repo.Root, "merges", "demo.proj"),
            ["-getItem:MergeStep", "-p:DemoTiesDensity=0.7", "-p:LlmMergeBuildTools=false"]);
        Assert.That(items.ExitCode, Is.Zero, items.ToString());
        Assert.That(items.Log, Does.Contain("\"Density\": \"0.7\""));
        // The linear, task-arithmetic and DARE steps read only the experts, so none depends on the TIES step.
        Assert.That(items.Log, Does.Contain("\"Identity\": \"linear\"").And.Contain("\"Models\": \"arithmetic;world_facts;reversal;comparison\""));
        Assert.That(items.Log, Does.Not.Contain("\"Models\": \"ties"));
    }

    [Test]
    public void TheSearchIsAGraphOfItsOwnBesideTheDemo()
    {
        // The search takes minutes, so merges/demo.proj (about a minute) must not hold it; merges/search.proj does.
        BuildResult search = DotnetBuild.Run(Path.Combine(Repo.Root, "merges", "search.proj"), ["-t:ValidateGraph", "-p:LlmMergeBuildTools=false"]);
        Assert.That(search.ExitCode, Is.Zero, search.ToString());
        Assert.That(search.Log, Does.Contain("graph search: 5 experts, 2 steps"));
        BuildResult demo = DotnetBuild.Run(Path.Combine(Repo.Root, "merges", "demo.proj"), ["-getItem:EvolveStep", "-p:LlmMergeBuildTools=false"]);
        Assert.That(demo.ExitCode, Is.Zero, demo.ToString());
        Assert.That(demo.Log, Does.Contain("\"EvolveStep\": []"), "the demo graph has no search step");
    }
}
