using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>
/// A graph takes every method the engine registers (the Build layer reads them from LlmMerge.Contracts), each
/// method's parameters as metadata, and Config= recipes of any of them.
/// </summary>
public sealed class StepKindTests
{
    [Test]
    public void AGraphWithEveryRegisteredMethodBuildsOffline()
    {
        using var folder = new GraphFolder();
        folder.Write("recipes/della-linear.yml", """
            merge_method: della_linear
            base_model: base
            parameters:
              epsilon: 0.05
            models:
              - model: expert-a
                parameters:
                  weight: 0.6
                  density: 0.5
              - model: ../models/expert-b
                parameters:
                  weight: 0.4
                  density: 0.5
            """);
        string project = folder.Project("methods", """
              <PropertyGroup>
                <LlmMergeEvaluate>false</LlmMergeEvaluate>
                <Two>expert-a;expert-b</Two>
              </PropertyGroup>
              <ItemGroup>
                <Expert Include="base" Path="models/base" />
                <Expert Include="expert-a" Path="models/expert-a" />
                <Expert Include="expert-b" Path="models/expert-b" />
              </ItemGroup>
              <ItemGroup>
                <MergeStep Include="m-linear" Method="linear" Models="$(Two)" Weight="0.5" />
                <MergeStep Include="m-task_arithmetic" Method="task_arithmetic" BaseModel="base" Models="$(Two)" Weight="0.5" Lambda="0.9" />
                <MergeStep Include="m-ties" Method="ties" BaseModel="base" Models="$(Two)" Weight="0.5" Density="0.5" Int8Mask="true" />
                <MergeStep Include="m-dare_ties" Method="dare_ties" BaseModel="base" Models="$(Two)" Weight="0.5" Density="0.5" />
                <MergeStep Include="m-dare_linear" Method="dare_linear" BaseModel="base" Models="$(Two)" Weight="0.5" Density="0.5" Rescale="false" />
                <MergeStep Include="m-breadcrumbs" Method="breadcrumbs" BaseModel="base" Models="$(Two)" Weight="0.5" Density="0.8" Gamma="0.05" />
                <MergeStep Include="m-breadcrumbs_ties" Method="breadcrumbs_ties" BaseModel="base" Models="$(Two)" Weight="0.5" Density="0.8" Gamma="0.05" />
                <MergeStep Include="m-della" Method="della" BaseModel="base" Models="$(Two)" Weight="0.5" Density="0.5" Epsilon="0.1" />
                <MergeStep Include="m-della_linear" Method="della_linear" BaseModel="base" Models="$(Two)" Weight="0.5" Density="0.5" />
                <MergeStep Include="m-slerp" Method="slerp" BaseModel="expert-a" Models="expert-b" T="[0, 0.5, 1]" />
                <MergeStep Include="m-nuslerp" Method="nuslerp" Models="$(Two)" Weight="expert-a=0.3;expert-b=0.7" NuslerpFlatten="false" />
                <MergeStep Include="m-multislerp" Method="multislerp" BaseModel="base" Models="$(Two)" Weight="1" />
                <MergeStep Include="m-karcher" Method="karcher" Models="$(Two)" MaxIter="5" />
                <MergeStep Include="m-arcee_fusion" Method="arcee_fusion" BaseModel="base" Models="expert-a" />
                <MergeStep Include="m-passthrough" Method="passthrough" Models="expert-a" Scale="1" />
                <MergeStep Include="m-model_stock" Method="model_stock" BaseModel="base" Models="$(Two)" FilterWise="true" />
                <MergeStep Include="m-sce" Method="sce" BaseModel="base" Models="$(Two)" SelectTopk="0.5" />
                <MergeStep Include="m-nearswap" Method="nearswap" BaseModel="base" Models="expert-a" T="0.01" />
                <MergeStep Include="m-tsv" Method="tsv" BaseModel="base" Models="$(Two)" ExcludeTensors="[lm_head, embed_tokens]" Alpha="expert-a=1;expert-b=0.5" />
                <MergeStep Include="m-iso_c" Method="iso_c" BaseModel="base" Models="$(Two)" ScalingFactor="1.2" />
                <MergeStep Include="m-iso_cts" Method="iso_cts" BaseModel="base" Models="$(Two)" CommonSpaceFraction="0.7" />
                <MergeStep Include="m-geometric_median" Method="geometric_median" BaseModel="base" Models="$(Two)" MaxIter="10" />
                <MergeStep Include="m-ram" Method="ram" BaseModel="base" Models="$(Two)" Epsilon="1e-4" />
                <MergeStep Include="m-ramplus_tl" Method="ramplus_tl" BaseModel="base" Models="$(Two)" R="0.5" />
                <MergeStep Include="m-regmean" Method="regmean" BaseModel="base" Models="$(Two)" CalibrationTasks="tasks/choice.csv" CalibrationRows="2" CalibrationSeed="5" />
                <MergeStep Include="m-regmean_plusplus" Method="regmean_plusplus" BaseModel="base" Models="$(Two)"
                           CalibrationTasks="expert-a=tasks/choice.csv;expert-b=tasks/choice.csv" CalibrationRows="2" />
                <MergeStep Include="m-fisher" Method="fisher" BaseModel="base" Models="$(Two)" CalibrationTasks="tasks/choice.csv" CalibrationRows="2" />
                <MergeStep Include="from-card" Config="recipes/della-linear.yml" />
              </ItemGroup>
            """);
        folder.Write("tasks/choice.csv", "id,input,target,answer_choices,eval_type\n0,Two plus two?,1,\"['three', 'four']\",multiple_choice\n1,Sky?,2,\"['green', 'red', 'blue', 'black']\",multiple_choice\n");
        // The calibrated methods' statistics go to this test's own cache.
        var environment = new Dictionary<string, string> { ["LLMMERGE_CALIBRATION_CACHE"] = Path.Combine(folder.Dir, "calibration-cache") };
        BuildResult result = folder.Build(project, environment);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var methods = new[]
        {
            "linear", "task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs", "breadcrumbs_ties", "della", "della_linear",
            "slerp", "nuslerp", "multislerp", "karcher", "arcee_fusion", "passthrough", "model_stock", "sce", "nearswap",
            "tsv", "iso_c", "iso_cts", "geometric_median", "ram", "ramplus_tl", "regmean", "regmean_plusplus", "fisher",
        };
        // Every method LlmMerge.Contracts describes has a step here, so a method added there without one fails this test.
        Assert.That(methods, Is.EquivalentTo(Contracts.Methods.MethodDescriptors.All.Select(m => m.Name)));
        Assert.That(result.StepsRan, Is.EquivalentTo(methods.Select(m => "m-" + m).Append("from-card")), result.ToString());
        foreach (string step in methods.Select(m => "m-" + m).Append("from-card"))
            Assert.That(File.Exists(folder.Artifacts(project, step, "model.safetensors")), step);
        Assert.That(File.ReadAllText(Path.Combine(folder.Dir, "obj", "llmmerge", "steps", "m-ties.yml")), Does.Contain("int8_mask: true"));
        Assert.That(File.ReadAllText(Path.Combine(folder.Dir, "obj", "llmmerge", "steps", "from-card.yml")), Does.Contain("merge_method: della_linear"));
        // Calibration metadata become the recipe's calibration block, the task by its path; list parameters a YAML list.
        Assert.That(File.ReadAllText(Path.Combine(folder.Dir, "obj", "llmmerge", "steps", "m-regmean.yml")),
            Does.Contain("calibration:").And.Contain(Path.Combine(folder.Dir, "tasks", "choice.csv")).And.Contain("rows: 2").And.Contain("seed: 5"));
        Assert.That(File.ReadAllText(Path.Combine(folder.Dir, "obj", "llmmerge", "steps", "m-tsv.yml")), Does.Contain("exclude: ['lm_head', 'embed_tokens']"));
        Assert.That(Directory.GetFiles(Path.Combine(folder.Dir, "calibration-cache", "regmean"), "*.safetensors"), Has.Length.EqualTo(2), "one Gram file per expert");
    }
}
