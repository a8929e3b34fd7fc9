using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>
/// Graph nodes: each model's evaluations run in one process as soon as the model exists, results stay cached per
/// (model, task); two builds of one graph at once both succeed; fingerprints do not depend on where a checkout lives.
/// </summary>
public sealed class GraphNodeTests
{
    private const string TaskA = "id,input,target,answer_choices,eval_type\n0,Two plus two?,1,\"['three', 'four']\",multiple_choice\n1,Sky?,2,\"['green', 'red', 'blue', 'black']\",multiple_choice\n";
    private const string TaskB = "id,input,target,answer_choices,eval_type\n0,Is ten more than nine?,0,\"['yes', 'no']\",multiple_choice\n";

    private static string Graph(string tasks) => $"""
          <ItemGroup>
            <Expert Include="base" Path="models/base" />
            <Expert Include="expert-a" Path="models/expert-a" />
            <Expert Include="expert-b" Path="models/expert-b" />
            <MergeStep Include="ties" Method="ties" BaseModel="base" Models="expert-a;expert-b" Density="0.5" Weight="0.5" />
            <Evaluation Include="held-out" Models="expert-a;expert-b;ties" Tasks="{tasks}" />
          </ItemGroup>
        """;

    private static List<string> EvalRuns(BuildResult r) =>
        Regex.Matches(r.Log, @"Evaluation 'held-out': (\S+) on ([^:]+): done in").Select(m => $"{m.Groups[1].Value}: {m.Groups[2].Value.Trim()}").Order(StringComparer.Ordinal).ToList();

    [Test]
    public void EachModelIsScoredInOneProcessAndOnlyUnscoredTasksRun()
    {
        using var folder = new GraphFolder();
        folder.Write("tasks/a.csv", TaskA);
        folder.Write("tasks/b.csv", TaskB);
        folder.Write("tasks/c.csv", TaskB.Replace("ten", "eleven", StringComparison.Ordinal));
        string project = folder.Project("nodes", Graph("tasks/a.csv;tasks/b.csv"));

        BuildResult first = folder.Build(project);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(EvalRuns(first), Is.EqualTo(new[] { "expert-a: a, b", "expert-b: a, b", "ties: a, b" }), "one llmmerge eval per model");
        Assert.That(Regex.Count(first.Log, @"llmmerge\.dll eval "), Is.EqualTo(3), "three eval processes");
        Assert.That(first.Log, Does.Contain("6 evaluation(s) run"));
        Assert.That(Directory.GetFiles(folder.Artifacts(project, "eval-cache"), "*.json"), Has.Length.EqualTo(6), "results cached per (model, task)");
        Assert.That(Directory.GetFiles(folder.Artifacts(project, "eval-cache"), "*.samples.jsonl"), Has.Length.EqualTo(6));
        string report = File.ReadAllText(folder.Artifacts(project, "report.md"));
        Assert.That(report, Does.Not.Contain("n/a |"), report);
        Assert.That(report, Does.Contain("| *chance* | | 0.375 | 0.500 |"));

        // A third task: each model runs once more, for that task alone.
        File.WriteAllText(project, File.ReadAllText(project).Replace("tasks/a.csv;tasks/b.csv", "tasks/a.csv;tasks/b.csv;tasks/c.csv", StringComparison.Ordinal));
        BuildResult second = folder.Build(project);
        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        Assert.That(EvalRuns(second), Is.EqualTo(new[] { "expert-a: c", "expert-b: c", "ties: c" }));
        Assert.That(second.Log, Does.Contain("3 evaluation(s) run, 6 cached"));

        BuildResult third = folder.Build(project);
        Assert.That(third.Log, Does.Contain("LlmMerge: nothing to do"), third.ToString());
    }

    [Test]
    public void TwoBuildsOfOneGraphAtOnceBothSucceed()
    {
        using var folder = new GraphFolder();
        folder.Write("tasks/a.csv", TaskA);
        folder.Write("tasks/b.csv", TaskB);
        string project = folder.Project("twice", Graph("tasks/a.csv;tasks/b.csv"));

        // As an IDE and a terminal would: the second build starts 3 s after the first, while it merges and scores.
        var first = Task.Run(() => folder.Build(project));
        Thread.Sleep(TimeSpan.FromSeconds(3));
        var second = Task.Run(() => folder.Build(project));
        BuildResult a = first.Result, b = second.Result;
        Assert.That(a.ExitCode, Is.Zero, a.ToString());
        Assert.That(b.ExitCode, Is.Zero, b.ToString());
        Assert.That(Directory.GetFiles(folder.Artifacts(project, "eval-cache"), "*.json"), Has.Length.EqualTo(6));
        Assert.That(Directory.GetDirectories(folder.Artifacts(project)).Select(Path.GetFileName), Is.EquivalentTo(new[] { "ties", "eval-cache" }),
            "no half-written or left-over folders beside the outputs");
        Assert.That(Directory.GetDirectories(folder.Artifacts(project, "eval-cache")), Is.Empty.Or.EquivalentTo(new[] { folder.Artifacts(project, "eval-cache", ".runs") }));
        Assert.That(File.Exists(folder.Artifacts(project, "ties", "model.safetensors")));

        BuildResult again = folder.Build(project);
        Assert.That(again.ExitCode, Is.Zero, again.ToString());
        Assert.That(again.Log, Does.Contain("LlmMerge: nothing to do: 1 step(s) up to date, 6 evaluation(s) cached."), again.ToString());
    }

    [Test]
    public void FingerprintsDoNotDependOnWhereTheGraphLives()
    {
        using var one = new GraphFolder();
        using var two = new GraphFolder();
        var stamps = new List<Dictionary<string, string>>();
        foreach (var folder in new[] { one, two })
        {
            folder.Write("tasks/a.csv", TaskA);
            folder.Write("recipe.yml", "merge_method: linear\nmodels:\n  - model: ties\n    parameters: {weight: 1.0}\n  - model: models/expert-b\n    parameters: {weight: 0.5}\n");
            string project = folder.Project("where", Graph("tasks/a.csv").Replace("</ItemGroup>", "  <MergeStep Include=\"card\" Config=\"recipe.yml\" />\n      </ItemGroup>", StringComparison.Ordinal));
            BuildResult plan = folder.Build(project, "-t:_LlmMergePlan");
            Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
            string state = Path.Combine(folder.Dir, "obj", "llmmerge");
            stamps.Add(Directory.GetFiles(Path.Combine(state, "steps"), "*.stamp").Concat(Directory.GetFiles(Path.Combine(state, "eval"), "*.pair"))
                .ToDictionary(f => Path.GetFileName(f), File.ReadAllText));
        }
        Assert.That(one.Dir, Is.Not.EqualTo(two.Dir));
        Assert.That(stamps[0].Keys, Has.Member("ties.stamp").And.Member("card.stamp"));
        Assert.That(stamps[1], Is.EquivalentTo(stamps[0]), "the same steps and evaluation keys in both folders");
    }

    /// <summary>
    /// The tools' assemblies are part of every fingerprint, so they must not embed where the checkout lives: the
    /// repository's Directory.Build.props maps source paths. Two copies of one project in different folders build the
    /// same bytes.
    /// </summary>
    [Test]
    public void ToolAssembliesAreTheSameBytesFromAnyFolder()
    {
        var hashes = new List<string>();
        string parent = Path.Combine(Path.GetTempPath(), "llmmerge-build-tests", Guid.NewGuid().ToString("N")[..12]);
        try
        {
            foreach (string name in new[] { "clone-one", "somewhere/else/clone-two" })
            {
                string root = Path.Combine(parent, name);
                foreach (string f in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json" })
                {
                    Directory.CreateDirectory(root);
                    File.Copy(Path.Combine(Repo.Root, f), Path.Combine(root, f));
                }
                GraphFolder.CopyFolder(Path.Combine(Repo.Root, "build"), Path.Combine(root, "build"));
                CopyTree(Path.Combine(Repo.Root, "src", "LlmMerge.Contracts"), Path.Combine(root, "src", "LlmMerge.Contracts"));
                var psi = new ProcessStartInfo("dotnet", ["build", Path.Combine(root, "src", "LlmMerge.Contracts"), "-c", "Release", "-nologo", "-nr:false", "-p:IncludeSourceRevisionInInformationalVersion=false"])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                foreach (string v in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH" })
                    psi.Environment.Remove(v);
                using var p = Process.Start(psi)!;
                string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
                p.WaitForExit();
                Assert.That(p.ExitCode, Is.Zero, output);
                string dll = Path.Combine(root, "src", "LlmMerge.Contracts", "bin", "Release", "net10.0", "LlmMerge.Contracts.dll");
                Assert.That(File.ReadAllText(dll, System.Text.Encoding.Latin1), Does.Not.Contain(root), "no absolute source path inside");
                hashes.Add(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(dll))));
            }
            Assert.That(hashes[1], Is.EqualTo(hashes[0]));
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    private static void CopyTree(string from, string to)
    {
        foreach (string dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories).Where(d => !Regex.IsMatch(d, @"[/\\](bin|obj)([/\\]|$)")))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories).Where(f => !Regex.IsMatch(f, @"[/\\](bin|obj)[/\\]")))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }
}
