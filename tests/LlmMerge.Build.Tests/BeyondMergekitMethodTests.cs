using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>A calibrated method without calibration rows, or with a task file that is not there, fails at its item's line before anything runs.</summary>
public sealed class BeyondMergekitMethodTests
{
    [Test]
    public void CalibratedMethodsNeedTheirTasks()
    {
        using var folder = new GraphFolder();
        string project = folder.Project("calibration", """
              <ItemGroup>
                <Expert Include="base" Path="models/base" />
                <Expert Include="expert-a" Path="models/expert-a" />
                <Expert Include="expert-b" Path="models/expert-b" />
              </ItemGroup>
              <ItemGroup>
                <MergeStep Include="uncalibrated" Method="fisher" Models="expert-a;expert-b" />
                <MergeStep Include="missing" Method="regmean" Models="expert-a;expert-b" CalibrationTasks="tasks/nowhere.csv" />
                <MergeStep Include="stranger" Method="regmean" Models="expert-a;expert-b" CalibrationTasks="base=tasks/nowhere.csv" />
              </ItemGroup>
            """);
        BuildResult result = folder.Build(project, "-t:ValidateGraph");
        Assert.That(result.ExitCode, Is.Not.Zero);
        Assert.That(result.Errors, Has.Some.Contains("LLM0106").And.Contains("method fisher computes statistics on calibration rows; give CalibrationTasks"));
        Assert.That(result.Errors, Has.Some.Contains("LLM0109").And.Contains("nowhere.csv' does not exist"));
        Assert.That(result.Errors, Has.Some.Contains("LLM0105").And.Contains("names 'base', which is not in Models"));
    }
}
