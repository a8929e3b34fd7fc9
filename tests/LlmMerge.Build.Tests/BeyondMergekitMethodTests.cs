using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>The FusionBench methods and RAM run as graph steps; a calibrated method's rows come from item metadata.</summary>
public sealed class BeyondMergekitMethodTests
{
    private const string TaskCsv = "id,input,target,answer_choices,eval_type\n0,Two plus two?,1,\"['three', 'four']\",multiple_choice\n1,Sky?,2,\"['green', 'red', 'blue', 'black']\",multiple_choice\n";

    [Test]
    public void TsvRamAndRegMeanStepsBuildAndCalibrationReachesTheRecipe()
    {
        using var folder = new GraphFolder();
        folder.Write("tasks/choice.csv", TaskCsv);
        string project = folder.Project("beyond", """
              <ItemGroup>
                <Expert Include="base" Path="models/base" />
                <Expert Include="expert-a" Path="models/expert-a" />
                <Expert Include="expert-b" Path="models/expert-b" />
              </ItemGroup>
              <ItemGroup>
                <MergeStep Include="tsv" Method="tsv" BaseModel="base" Models="expert-a;expert-b" Exclude="[lm_head, embed_tokens]" Alpha="0.8" />
                <MergeStep Include="ram" Method="ramplus_tl" BaseModel="base" Models="expert-a;expert-b" />
                <MergeStep Include="regmean" Method="regmean" BaseModel="base" Models="expert-a;expert-b"
                           CalibrationTasks="tasks/choice.csv" CalibrationRows="2" CalibrationSeed="5" />
                <MergeStep Include="uncalibrated" Method="fisher" Models="expert-a;expert-b" Condition="'$(WithBadStep)' == 'true'" />
              </ItemGroup>
            """);
        var environment = new Dictionary<string, string> { ["LLMMERGE_CALIBRATION_CACHE"] = Path.Combine(folder.Dir, "calibration-cache") };

        BuildResult result = folder.Build(project, environment);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.StepsRan, Is.EqualTo(new[] { "ram", "regmean", "tsv" }), result.ToString());
        foreach (string step in new[] { "tsv", "ram", "regmean" })
            Assert.That(File.Exists(folder.Artifacts(project, step, "model.safetensors")), step);
        string recipe = File.ReadAllText(Directory.GetFiles(Path.Combine(folder.Dir, "obj"), "regmean.yml", SearchOption.AllDirectories).Single());
        Assert.That(recipe, Does.Contain("calibration:").And.Contain(Path.Combine(folder.Dir, "tasks", "choice.csv")).And.Contain("rows: 2").And.Contain("seed: 5"));
        Assert.That(Directory.GetFiles(Path.Combine(folder.Dir, "calibration-cache", "regmean"), "*.safetensors"), Has.Length.EqualTo(2), "one Gram file per expert");

        BuildResult bad = folder.Build(project, environment, "-p:WithBadStep=true", "-t:ValidateGraph");
        Assert.That(bad.ExitCode, Is.Not.Zero);
        Assert.That(bad.Errors, Has.Some.Contains("LLM0106").And.Contains("method fisher computes statistics on calibration rows; give CalibrationTasks"));
    }
}
