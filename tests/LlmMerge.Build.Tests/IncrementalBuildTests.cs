using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>Which steps a build runs: all on the first build, none on the second, and only a changed step and its downstream after that.</summary>
public sealed class IncrementalBuildTests
{
    // ties <- density property; average independent of ties; blend reads both; fromyaml is a mergekit recipe reading average.
    private const string Graph = """
          <PropertyGroup>
            <DemoTiesDensity Condition="'$(DemoTiesDensity)' == ''">0.5</DemoTiesDensity>
          </PropertyGroup>
          <ItemGroup>
            <Expert Include="base" Path="models/base" />
            <Expert Include="expert-a" Path="models/expert-a" />
            <Expert Include="expert-b" Path="models/expert-b" />
          </ItemGroup>
          <ItemGroup>
            <MergeStep Include="ties" Method="ties" BaseModel="base" Models="expert-a;expert-b" Density="$(DemoTiesDensity)"
                       Weight="expert-a=0.6;expert-b=0.4" DType="float32" Publish="true" />
            <MergeStep Include="average" Method="linear" Models="expert-a;expert-b" Weight="0.5" />
            <MergeStep Include="blend" Method="slerp" BaseModel="average" Models="ties" T="0.5" />
            <MergeStep Include="fromyaml" Config="recipe.yml" />
          </ItemGroup>
          <ItemGroup>
            <Evaluation Include="held-out" Models="expert-a;ties;blend" Tasks="tasks/choice.csv" />
          </ItemGroup>
        """;

    private const string Recipe = """
        merge_method: linear
        models:
          - model: average
            parameters:
              weight: 1.0
          - model: models/expert-b
            parameters:
              weight: 0.50
        """;

    private const string TaskCsv = "id,input,target,answer_choices,eval_type\n0,Two plus two?,1,\"['three', 'four']\",multiple_choice\n1,Sky?,2,\"['green', 'red', 'blue', 'black']\",multiple_choice\n";

    [Test]
    public void SecondBuildRunsNothingAndADensityChangeRerunsOnlyTiesAndDownstream()
    {
        using var folder = new GraphFolder();
        folder.Write("recipe.yml", Recipe);
        folder.Write("tasks/choice.csv", TaskCsv);
        string project = folder.Project("graph", Graph);

        BuildResult first = folder.Build(project);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(first.StepsRan, Is.EqualTo(new[] { "average", "blend", "fromyaml", "ties" }), first.ToString());
        foreach (string step in new[] { "ties", "average", "blend", "fromyaml" })
        {
            Assert.That(File.Exists(folder.Artifacts(project, step, "config.json")), step);
            Assert.That(File.Exists(folder.Artifacts(project, step, "model.safetensors")), step);
        }
        // The CLI's progress reaches the log at normal verbosity.
        Assert.That(first.Log, Does.Contain("merge: 39/39 tensors"), "the CLI's progress shows in the build log");

        // The mergekit recipe was normalised: names became the folders they stand for, relative paths absolute.
        string normalised = File.ReadAllText(Path.Combine(folder.Dir, "obj", "llmmerge", "steps", "fromyaml.yml"));
        Assert.That(normalised, Does.Contain(folder.Artifacts(project, "average")));
        Assert.That(normalised, Does.Contain(Path.Combine(folder.Dir, "models", "expert-b")));

        string report = File.ReadAllText(folder.Artifacts(project, "report.md"));
        Assert.That(report, Does.Contain("| ties | ties | base, expert-a, expert-b |"));
        Assert.That(report, Does.Match(@"\| ties \| ties \|[^\n]*\| ran \| \d+\.\d \| \d+ \|"), "time and peak memory of the step");
        Assert.That(report, Does.Contain("| *chance* | | 0.375 |"), "chance = mean of 1/2 and 1/4");
        Assert.That(File.ReadAllText(folder.Artifacts(project, "report.svg")), Does.StartWith("<svg"));

        BuildResult second = folder.Build(project);
        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        Assert.That(second.StepsRan, Is.Empty, second.ToString());
        Assert.That(second.StepsSkipped, Is.EqualTo(4), second.ToString());
        Assert.That(second.Log, Does.Contain("LlmMerge: nothing to do: 4 step(s) up to date"));

        DateTime averageWritten = File.GetLastWriteTimeUtc(folder.Artifacts(project, "average", "model.safetensors"));
        BuildResult denser = folder.Build(project, "-p:DemoTiesDensity=0.6");
        Assert.That(denser.ExitCode, Is.Zero, denser.ToString());
        Assert.That(denser.StepsRan, Is.EqualTo(new[] { "blend", "ties" }), denser.ToString());
        Assert.That(denser.StepsSkipped, Is.EqualTo(2));
        Assert.That(File.GetLastWriteTimeUtc(folder.Artifacts(project, "average", "model.safetensors")), Is.EqualTo(averageWritten));
        Assert.That(File.ReadAllText(Path.Combine(folder.Dir, "obj", "llmmerge", "steps", "ties.yml")), Does.Contain("density: 0.6"));

        // The same value written differently ("0.60") is the same recipe.
        BuildResult same = folder.Build(project, "-p:DemoTiesDensity=0.60");
        Assert.That(same.StepsRan, Is.Empty, same.ToString());
        Assert.That(same.Log, Does.Contain("LlmMerge: nothing to do"));
    }

    [Test]
    public void PublishPacksTheChosenModelsWithAVerifiableManifest()
    {
        using var folder = new GraphFolder();
        folder.Write("recipe.yml", Recipe);
        folder.Write("tasks/choice.csv", TaskCsv);
        string project = folder.Project("graph", Graph.Replace("<MergeStep Include=\"fromyaml\" Config=\"recipe.yml\" />", "", StringComparison.Ordinal));

        BuildResult publish = folder.Build(project, "-t:Publish");
        Assert.That(publish.ExitCode, Is.Zero, publish.ToString());
        string packed = folder.Artifacts(project, "publish", "ties");
        Assert.That(File.Exists(packed + ".zip"), Is.True);
        Assert.That(Directory.Exists(folder.Artifacts(project, "publish", "average")), Is.False, "only Publish=\"true\" models are packed");
        string[] sums = File.ReadAllLines(Path.Combine(packed, "SHA256SUMS"));
        Assert.That(sums.Select(l => l[66..]), Is.EquivalentTo(new[] { "README.md", "config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json" }));
        foreach (string line in sums)
        {
            using var stream = File.OpenRead(Path.Combine(packed, line[66..]));
            Assert.That(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream)), Is.EqualTo(line[..64]), line);
        }
        Assert.That(File.ReadAllText(Path.Combine(packed, "README.md")), Does.Contain("## Evaluation").And.Contain("choice"));
        using var zip = System.IO.Compression.ZipFile.OpenRead(packed + ".zip");
        Assert.That(zip.Entries.Select(e => e.FullName), Does.Contain("ties/model.safetensors"));
    }
}
