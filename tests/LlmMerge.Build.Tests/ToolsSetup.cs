using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>
/// Builds the CLI and the tasks once for the whole run, the way a graph does it (LlmMergeBuildTools, on by
/// default), by building the repository's demo graph's ValidateGraph target; every test then shares them.
/// </summary>
[SetUpFixture]
public sealed class ToolsSetup
{
    internal static BuildResult? First { get; private set; }

    [OneTimeSetUp]
    public void BuildTools()
    {
        string demo = Path.Combine(Repo.Root, "merges", "demo.proj");
        First = DotnetBuild.Run(demo, ["-t:ValidateGraph"]);
        Assert.That(First.ExitCode, Is.Zero, First.ToString());
        Assert.That(File.Exists(Repo.CliAssembly), Is.True, Repo.CliAssembly);
    }
}
