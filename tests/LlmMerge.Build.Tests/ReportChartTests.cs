using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>
/// The report of a graph of fourteen models (seven experts that steps merge, four references no step reads, three
/// merges): every model has a colour of its own, roles differ by shape and pattern as well, and the report adds a
/// models × tasks heatmap and accuracy against each step's time. Scores are planted in the evaluation cache, as
/// <see cref="ReportTests"/> does, so no model is scored.
/// </summary>
public sealed class ReportChartTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    private static readonly string[] Experts = ["e0", "e1", "e2", "e3", "e4", "e5", "e6"];
    private static readonly string[] References = ["r1", "r2", "r3", "r4"];
    private static readonly string[] Merges = ["m1", "m2", "m3"];

    [Test]
    public void FourteenModels_GetFourteenColours_RolesByShapeAndPattern_AHeatmap_AndAccuracyAgainstTime()
    {
        using var folder = new GraphFolder();
        folder.Write("tasks/one.csv", "id,input,target,answer_choices,eval_type\n0,Two plus two?,1,\"['three', 'four']\",multiple_choice\n");
        folder.Write("tasks/two.csv", "id,input,target,answer_choices,eval_type\n0,Sky?,2,\"['green', 'red', 'blue', 'black']\",multiple_choice\n");
        var items = new StringBuilder();
        int n = 0;
        foreach (string name in Experts.Concat(References))
        {
            // Copies of the zoo's models, each with a note of its own so that no two share a fingerprint.
            string dir = Path.Combine(folder.Dir, "models", name);
            GraphFolder.CopyFolder(Path.Combine(folder.Dir, "models", (n++ % 3) switch { 0 => "base", 1 => "expert-a", _ => "expert-b" }), dir);
            File.WriteAllText(Path.Combine(dir, "note.txt"), name);
            items.Append(CultureInfo.InvariantCulture, $"    <Expert Include=\"{name}\" Path=\"models/{name}\" />\n");
        }
        string project = folder.Project("many", $"""
              <ItemGroup>
            {items}
                <MergeStep Include="m1" Method="linear" Models="e1;e2" Weight="1" />
                <MergeStep Include="m2" Method="linear" Models="e3;e4" Weight="1" />
                <MergeStep Include="m3" Method="task_arithmetic" BaseModel="e0" Models="e5;e6" Weight="0.5" />
                <Evaluation Include="held-out" Models="{string.Join(';', Experts.Concat(References).Concat(Merges))}" Tasks="tasks/one.csv;tasks/two.csv" />
              </ItemGroup>
            """);

        BuildResult first = folder.Build(project, "-p:LlmMergeEvaluate=false");
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        string[] pairs = Directory.GetFiles(Path.Combine(folder.Dir, "obj", "llmmerge", "eval"), "*.pair");
        Assert.That(pairs, Has.Length.EqualTo(28), "14 models on 2 tasks");
        string cache = folder.Artifacts(project, "eval-cache");
        Directory.CreateDirectory(cache);
        int k = 0;
        foreach (string pair in pairs.Order(StringComparer.Ordinal))
        {
            double acc = 0.2 + 0.025 * k++;
            File.WriteAllText(Path.Combine(cache, Path.GetFileNameWithoutExtension(pair) + ".json"), new JsonObject
            {
                ["tasks"] = new JsonObject { ["t"] = new JsonObject { ["rows"] = 1, ["chance"] = 0.375, ["metrics"] = new JsonObject { ["acc"] = acc } } },
                ["average"] = new JsonObject { ["acc"] = acc },
            }.ToJsonString());
        }

        BuildResult second = folder.Build(project);
        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        Assert.That(second.Log, Does.Contain("28 evaluation(s) cached"));

        var models = Experts.Concat(References).Concat(Merges).ToList();
        string Role(string m) => Merges.Contains(m) ? "merge" : References.Contains(m) ? "reference" : "expert";

        // Bars: one per model and task, one fill per model, and no fill shared by two models.
        XDocument bars = XDocument.Load(folder.Artifacts(project, "report.svg"));
        var barRects = bars.Descendants(Svg + "rect").Where(r => (string?)r.Attribute("class") == "bar").ToList();
        Assert.That(barRects, Has.Count.EqualTo(28));
        var fillOf = barRects.GroupBy(r => (string)r.Attribute("data-model")!).ToDictionary(g => g.Key, g => g.Select(r => (string)r.Attribute("fill")!).Distinct().ToList());
        Assert.That(fillOf.Keys, Is.EquivalentTo(models));
        Assert.That(fillOf.Values, Has.All.Count.EqualTo(1), "a model's bars share its colour");
        Assert.That(fillOf.Values.Select(f => f[0].ToLowerInvariant()).Distinct().Count(), Is.EqualTo(14), "no colour repeats");
        Assert.That(barRects.Select(r => (string)r.Attribute("fill")!), Has.All.Match("^#[0-9a-f]{6}$"));
        // Roles by more than colour: a pattern over merges (hatching) and references (dots), none over experts.
        var patternOf = bars.Descendants(Svg + "rect").Where(r => (string?)r.Attribute("class") == "pattern")
            .GroupBy(r => (string)r.Attribute("data-model")!).ToDictionary(g => g.Key, g => g.Select(r => (string)r.Attribute("fill")!).Distinct().Single());
        foreach (string m in models)
        {
            string? expected = Role(m) switch { "merge" => "url(#merge-hatch)", "reference" => "url(#reference-dots)", _ => null };
            Assert.That(patternOf.GetValueOrDefault(m), Is.EqualTo(expected), m);
        }
        // ...and by the legend's marker shape and label style.
        foreach (XElement entry in bars.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "legend"))
        {
            string m = (string)entry.Attribute("data-model")!;
            XElement marker = entry.Elements().First();
            Assert.That(marker.Name.LocalName, Is.EqualTo(Role(m) switch { "merge" => "circle", "reference" => "polygon", _ => "rect" }), m);
            Assert.That((string?)marker.Attribute("fill"), Is.EqualTo(fillOf[m][0]), $"{m}'s legend colour is its bars'");
            XElement label = entry.Element(Svg + "text")!;
            Assert.That((string?)label.Attribute("font-weight"), Is.EqualTo(Role(m) == "merge" ? "bold" : null), m);
            Assert.That((string?)label.Attribute("font-style"), Is.EqualTo(Role(m) == "reference" ? "italic" : null), m);
        }

        // The heatmap: a row per model with its marker, a cell per task and the average.
        XDocument heatmap = XDocument.Load(folder.Artifacts(project, "report-heatmap.svg"));
        Assert.That(heatmap.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "row-label").Select(g => (string)g.Attribute("data-model")!), Is.EqualTo(models));
        Assert.That(heatmap.Descendants(Svg + "rect").Count(r => (string?)r.Attribute("class") == "cell"), Is.EqualTo(14 * 3));

        // Accuracy against time: a point per merge (each step's time from this build), lines for references and the best expert.
        XDocument time = XDocument.Load(folder.Artifacts(project, "report-time.svg"));
        Assert.That(time.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "point").Select(g => (string)g.Attribute("data-model")!), Is.EquivalentTo(Merges));
        var lines = time.Descendants(Svg + "line").Where(l => (string?)l.Attribute("class") == "reference-line").Select(l => (string)l.Attribute("data-model")!).ToList();
        var averages = JsonNode.Parse(File.ReadAllText(folder.Artifacts(project, "results.json")))!["models"]!.AsObject()
            .ToDictionary(m => m.Key, m => m.Value!.AsObject().Select(t => t.Value!.GetValue<double>()).Average());
        string bestExpert = Experts.MaxBy(e => averages[e])!;
        Assert.That(lines, Is.EquivalentTo(References.Append(bestExpert)));

        string report = File.ReadAllText(folder.Artifacts(project, "report.md"));
        Assert.That(report, Does.Contain("(report.svg)").And.Contain("(report-heatmap.svg)").And.Contain("(report-time.svg)"));
        Assert.That(report, Does.Contain("| r1 | reference |").And.Contain("| e1 | expert |").And.Contain("| m3 | step (task_arithmetic) |"));
    }
}
