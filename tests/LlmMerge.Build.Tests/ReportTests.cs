using System.Text.Json.Nodes;
using System.Xml.Linq;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>
/// The report and the evaluation cache: known results are put in the cache under the keys the graph planned
/// (obj/llmmerge/eval/KEY.pair), in the shape `llmmerge eval` writes. A build then scores nothing, since every
/// (model, task) pair is already scored, and reports exactly those numbers.
/// </summary>
public sealed class ReportTests
{
    [Test]
    public void CachedScoresAreReportedBesideChanceWithAChart()
    {
        using var folder = new GraphFolder();
        folder.Write("tasks/choice.csv", "id,input,target,answer_choices,eval_type\n0,Two plus two?,1,\"['three', 'four']\",multiple_choice\n1,Sky?,2,\"['green', 'red', 'blue', 'black']\",multiple_choice\n");
        string project = folder.Project("scored", """
              <ItemGroup>
                <Expert Include="expert-a" Path="models/expert-a" />
                <Expert Include="expert-b" Path="models/expert-b" />
                <MergeStep Include="average" Method="linear" Models="expert-a;expert-b" Weight="0.5" />
                <Evaluation Include="held-out" Tasks="tasks/choice.csv" />
              </ItemGroup>
            """);
        BuildResult first = folder.Build(project);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        string[] pairs = Directory.GetFiles(Path.Combine(folder.Dir, "obj", "llmmerge", "eval"), "*.pair");
        Assert.That(pairs, Has.Length.EqualTo(3), "expert-a, expert-b and average on one task");

        string cache = folder.Artifacts(project, "eval-cache");
        Directory.CreateDirectory(cache);
        double acc = 0.25;
        foreach (string pair in pairs)
        {
            acc += 0.25;
            File.WriteAllText(Path.Combine(cache, Path.GetFileNameWithoutExtension(pair) + ".json"),
                new JsonObject
                {
                    // The evaluator reports guessing's accuracy with each task: the mean of 1/choices, (1/2 + 1/4) / 2 here.
                    ["tasks"] = new JsonObject { ["choice"] = new JsonObject { ["rows"] = 2, ["chance"] = 0.375, ["metrics"] = new JsonObject { ["acc"] = acc, ["acc_norm"] = 0.0 } } },
                    ["average"] = new JsonObject { ["acc"] = acc },
                }.ToJsonString());
        }

        BuildResult second = folder.Build(project);
        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        Assert.That(second.Log, Does.Contain("LlmMerge: nothing to do: 1 step(s) up to date, 3 evaluation(s) cached."));

        string report = File.ReadAllText(folder.Artifacts(project, "report.md"));
        Assert.That(report, Does.Match(@"\| average \| step \(linear\) \| (0\.500|0\.750|1\.000) \|"));
        Assert.That(report, Does.Contain("| *chance* | | 0.375 | 0.375 |"));
        var results = JsonNode.Parse(File.ReadAllText(folder.Artifacts(project, "results.json")))!;
        Assert.That(results["models"]!.AsObject().Select(m => m.Key), Is.EquivalentTo(new[] { "expert-a", "expert-b", "average" }));
        Assert.That(results["chance"]!["choice"]!.GetValue<double>(), Is.EqualTo(0.375));

        XDocument svg = XDocument.Load(folder.Artifacts(project, "report.svg"));
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.That(svg.Descendants(ns + "rect").Count(r => r.Element(ns + "title") is not null), Is.EqualTo(3), "one bar per model");
        Assert.That(svg.Descendants(ns + "line").Any(l => (string?)l.Attribute("stroke-dasharray") is not null), Is.True, "the chance line");
    }
}
