using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>Evaluation through `llmmerge eval` (DESIGN.md's contract), out of process, cached per (model, task) pair.</summary>
public sealed class EvaluationTests
{
    [Test]
    public void OnlyUnscoredModelTaskPairsRun()
    {
        using var folder = new GraphFolder();
        folder.Write("tasks/choice.csv", "id,input,target,answer_choices,eval_type\n0,Two plus two?,1,\"['three', 'four']\",multiple_choice\n");
        string project = folder.Project("evals", """
              <PropertyGroup>
                <DemoTiesDensity Condition="'$(DemoTiesDensity)' == ''">0.5</DemoTiesDensity>
              </PropertyGroup>
              <ItemGroup>
                <Expert Include="base" Path="models/base" />
                <Expert Include="expert-a" Path="models/expert-a" />
                <Expert Include="expert-b" Path="models/expert-b" />
                <MergeStep Include="ties" Method="ties" BaseModel="base" Models="expert-a;expert-b" Density="$(DemoTiesDensity)" Weight="0.5" />
                <MergeStep Include="average" Method="linear" Models="expert-a;expert-b" Weight="0.5" />
                <Evaluation Include="held-out" Models="expert-a;ties;average" Tasks="tasks/choice.csv" />
              </ItemGroup>
            """);
        BuildResult first = folder.Build(project);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(first.Log, Does.Contain("3 evaluation(s) run"));
        string[] results = Directory.GetFiles(folder.Artifacts(project, "eval-cache"), "*.json");
        Assert.That(results, Has.Length.EqualTo(3));
        Assert.That(File.ReadAllText(folder.Artifacts(project, "report.md")), Does.Not.Contain("| ties | step (ties) | n/a"));

        BuildResult denser = folder.Build(project, "-p:DemoTiesDensity=0.6");
        Assert.That(denser.Log, Does.Contain("1 evaluation(s) run, 2 cached"), denser.ToString());
    }
}
