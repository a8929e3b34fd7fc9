using System.Text.RegularExpressions;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>Graph errors are MSBuild errors with a code, the project file and the line (and column) of the offending item.</summary>
public sealed class ErrorTests
{
    private static int LineOf(string text, string fragment)
    {
        string[] lines = text.Split('\n');
        int i = Array.FindIndex(lines, l => l.Contains(fragment, StringComparison.Ordinal));
        Assert.That(i, Is.GreaterThanOrEqualTo(0), fragment);
        return i + 1;
    }

    [Test]
    public void EachProblemIsReportedAtItsLineWithItsCode()
    {
        using var folder = new GraphFolder();
        string project = folder.Project("bad", """
              <ItemGroup>
                <Expert Include="base" Path="models/base" />
                <Expert Include="a" Path="models/expert-a" />
                <Expert Include="gone" Path="models/nowhere" />
              </ItemGroup>
              <ItemGroup>
                <MergeStep Include="unknown" Method="tiez" BaseModel="base" Models="a" />
                <MergeStep Include="missing" Method="linear" Models="a;zzz" Weight="1" />
                <MergeStep Include="dense" Method="ties" BaseModel="base" Models="a"
                           Density="1.5" />
                <MergeStep Include="typo" Method="ties" BaseModel="base" Models="a" Densty="0.5" />
                <MergeStep Include="loop1" Method="linear" Models="loop2" Weight="1" />
                <MergeStep Include="loop2" Method="linear" Models="loop1" Weight="1" />
              </ItemGroup>
            """);
        string text = File.ReadAllText(project);

        BuildResult result = folder.Build(project);
        Assert.That(result.ExitCode, Is.Not.Zero);
        void Expect(string code, string fragment, string message)
        {
            string pattern = Regex.Escape(project) + $@"\({LineOf(text, fragment)},\d+\): error {code}: [^\n]*{Regex.Escape(message)}";
            Assert.That(result.Errors.Any(e => Regex.IsMatch(e, pattern)), Is.True,
                $"expected {code} at line {LineOf(text, fragment)} ({message}); errors:\n{string.Join("\n", result.Errors)}");
        }
        Expect("LLM0104", "Include=\"gone\"", "models/nowhere' does not exist");
        Expect("LLM0101", "Include=\"unknown\"", "unknown merge method 'tiez'");
        Expect("LLM0103", "Include=\"missing\"", "model 'zzz' is neither an Expert nor a MergeStep");
        // The attribute's own line, not the element's first line.
        Expect("LLM0105", "Density=\"1.5\"", "density = 1.5 is outside [0, 1]");
        Expect("LLM0105", "Include=\"typo\"", "has no parameter 'densty'");
        Expect("LLM0102", "Include=\"loop1\"", "cycle: loop1 -> loop2 -> loop1");
        Assert.That(result.Log, Does.Not.Contain("done in"), "nothing runs when the graph is wrong");
    }

    [Test]
    public void AFailingMergeIsAnErrorAtItsStepsLine()
    {
        using var folder = new GraphFolder();
        // A model folder with no weights passes the graph checks but fails in the engine.
        folder.Write("models/odd/config.json", "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"num_hidden_layers\":0}");
        string project = folder.Project("fails", """
              <ItemGroup>
                <Expert Include="base" Path="models/base" />
                <Expert Include="odd" Path="models/odd" />
              </ItemGroup>
              <ItemGroup>
                <MergeStep Include="broken" Method="slerp" BaseModel="base" Models="odd" T="0.5" />
              </ItemGroup>
            """);
        BuildResult result = folder.Build(project);
        Assert.That(result.ExitCode, Is.Not.Zero);
        int line = LineOf(File.ReadAllText(project), "Include=\"broken\"");
        string pattern = Regex.Escape(project) + $@"\({line}(,\d+)?\): error LLM0110: MergeStep 'broken': llmmerge merge failed \(exit code 1\): [^\n]*models/odd: no weights";
        Assert.That(result.Errors.Any(e => Regex.IsMatch(e, pattern)), Is.True, string.Join("\n", result.Errors) + "\n" + result.Log);
        Assert.That(Directory.Exists(folder.Artifacts(project, "broken")), Is.False);

        // Nothing was marked done: the next build tries again rather than skipping.
        BuildResult again = folder.Build(project);
        Assert.That(again.ExitCode, Is.Not.Zero);
        Assert.That(again.StepsSkipped, Is.Zero);
    }
}
