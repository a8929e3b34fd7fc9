using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMerge.Build.Charts;
using LlmMerge.Contracts.Results;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LlmMerge.Build;

/// <summary>
/// Writes the graph's report: every model's accuracy on every task beside the experts' and the chance level,
/// charts of the same (bars by task, a models × tasks heatmap and, for graphs with many models, accuracy against
/// each step's time; SVG, every model in a colour of its own and its role shown by shape and pattern too), each
/// step's time and peak memory, and what this build ran. Also logs the build's one-line summary, which says
/// "nothing to do" when every step and evaluation was up to date.
/// </summary>
public sealed class WriteMergeReport : Microsoft.Build.Utilities.Task
{
    [Required] public string ProjectName { get; set; } = "";
    public ITaskItem[] Steps { get; set; } = [];
    public ITaskItem[] Models { get; set; } = [];
    public ITaskItem[] EvaluationPairs { get; set; } = [];
    public long BuildStartedTicks { get; set; }
    [Required] public string ReportFile { get; set; } = "";

    public override bool Execute()
    {
        var started = new DateTime(BuildStartedTicks, DateTimeKind.Utc);
        bool Fresh(string file) => File.Exists(file) && File.GetLastWriteTimeUtc(file) > started;

        var ran = Steps.Where(s => Fresh(s.GetMetadata("MarkerFile"))).Select(s => s.ItemSpec).ToList();
        var scoredNow = EvaluationPairs.Count(p => Fresh(p.GetMetadata("ResultFile")));
        var tasks = EvaluationPairs.Select(p => (Name: p.GetMetadata("TaskName"), File: p.GetMetadata("TaskFile")))
            .DistinctBy(t => t.Name).ToList();
        var scores = new Dictionary<(string Model, string Task), double>();
        var chance = tasks.ToDictionary(t => t.Name, _ => (double?)null);
        foreach (var p in EvaluationPairs)
        {
            // Each pair's cached RESULTS.json holds that one task; the evaluator also says what guessing scores there.
            var task = ResultsSchema.Read(p.GetMetadata("ResultFile"))?.FirstTask;
            if (task?.Accuracy is { } acc)
                scores[(p.GetMetadata("Model"), p.GetMetadata("TaskName"))] = acc;
            chance[p.GetMetadata("TaskName")] ??= task?.Chance;
        }
        // Experts first, then steps in the order they ran: the table reads from ingredients to results.
        var evaluated = Models.Where(m => EvaluationPairs.Any(p => p.GetMetadata("Model") == m.ItemSpec)).ToList();
        // An expert that no step reads is there to compare with: a reference.
        var merged = Models.Where(m => m.GetMetadata("Kind") == "step")
            .SelectMany(m => m.GetMetadata("Inputs").Split(',', StringSplitOptions.RemoveEmptyEntries)).ToHashSet(StringComparer.Ordinal);
        ModelRole Role(ITaskItem m) => m.GetMetadata("Kind") == "step" ? ModelRole.Merge : merged.Contains(m.ItemSpec) ? ModelRole.Expert : ModelRole.Reference;
        var stepSeconds = Steps.ToDictionary(s => s.ItemSpec, s => ReadStats(s.GetMetadata("StatsFile")).Item1, StringComparer.Ordinal);

        string dir = Path.GetDirectoryName(Path.GetFullPath(ReportFile))!;
        string chartFile = Path.ChangeExtension(ReportFile, ".svg");
        string heatmapFile = Path.ChangeExtension(ReportFile, null) + "-heatmap.svg";
        string timeFile = Path.ChangeExtension(ReportFile, null) + "-time.svg";
        var data = ReportData.Create(
            tasks.Select(t => t.Name).ToList(),
            tasks.Select(t => chance[t.Name]).ToList(),
            evaluated.Select(m => (m.ItemSpec, Role(m), m.GetMetadata("Method"),
                (IReadOnlyList<double?>)tasks.Select(t => scores.TryGetValue((m.ItemSpec, t.Name), out double v) ? (double?)v : null).ToList(),
                stepSeconds.GetValueOrDefault(m.ItemSpec))).ToList());
        bool timeChart = tasks.Count > 0 && TimeChart.Applies(data);
        var md = new StringBuilder();
        md.Append(CultureInfo.InvariantCulture, $"# Merge graph `{ProjectName}`\n\n");
        md.Append("Written by `dotnet build`; every number comes from this graph's artifacts.\n\n## Accuracy\n\n");
        if (tasks.Count == 0)
        {
            md.Append("No evaluations in this graph.\n\n");
        }
        else
        {
            md.Append("| model | kind | ").Append(string.Join(" | ", tasks.Select(t => t.Name))).Append(" | average |\n");
            md.Append("| --- | --- |").Append(string.Concat(tasks.Select(_ => " ---: |"))).Append(" ---: |\n");
            foreach (var m in evaluated)
            {
                var row = tasks.Select(t => scores.TryGetValue((m.ItemSpec, t.Name), out double v) ? (double?)v : null).ToList();
                string kind = Role(m) switch { ModelRole.Merge => $"step ({m.GetMetadata("Method")})", ModelRole.Expert => "expert", _ => "reference" };
                md.Append(CultureInfo.InvariantCulture, $"| {m.ItemSpec} | {kind} | ")
                  .Append(string.Join(" | ", row.Select(Cell)))
                  .Append(" | ").Append(Cell(row.All(v => v is not null) && row.Count > 0 ? row.Average() : null)).Append(" |\n");
            }
            var chanceRow = tasks.Select(t => chance[t.Name]).ToList();
            md.Append("| *chance* | | ").Append(string.Join(" | ", chanceRow.Select(Cell)))
              .Append(" | ").Append(Cell(chanceRow.All(v => v is not null) ? chanceRow.Average() : null)).Append(" |\n\n");
            if (scores.Count == 0)
                md.Append("No scores yet (see the build log: evaluation skipped or pending).\n\n");
            md.Append(CultureInfo.InvariantCulture, $"![accuracy by task]({Path.GetFileName(chartFile)})\n\n");
            md.Append(CultureInfo.InvariantCulture, $"![accuracy, models by tasks]({Path.GetFileName(heatmapFile)})\n\n");
        }

        md.Append(ReportRouting.Markdown(EvaluationPairs));
        md.Append("## Steps\n\n| step | method | inputs | fingerprint | this build | time (s) | peak memory (MiB) |\n| --- | --- | --- | --- | --- | ---: | ---: |\n");
        foreach (var s in Steps)
        {
            (double? seconds, long? peak) = ReadStats(s.GetMetadata("StatsFile"));
            md.Append(CultureInfo.InvariantCulture,
                $"| {s.ItemSpec} | {s.GetMetadata("Method")} | {s.GetMetadata("Inputs").Replace(",", ", ", StringComparison.Ordinal)} | `{s.GetMetadata("Fingerprint")[..12]}` | {(ran.Contains(s.ItemSpec) ? "ran" : "up to date")} | {Cell(seconds, "F1")} | {(peak is > 0 ? (peak.Value / 1048576.0).ToString("F0", CultureInfo.InvariantCulture) : "n/a")} |\n");
        }
        md.Append("\nTime is the wall time of `llmmerge merge` for the step's last run; peak memory is that process's VmHWM.\n");
        if (timeChart)
            md.Append(CultureInfo.InvariantCulture, $"\n![average accuracy against step time]({Path.GetFileName(timeFile)})\n");

        Directory.CreateDirectory(dir);
        StampFile.WriteIfDifferent(ReportFile, md.ToString());
        if (tasks.Count > 0)
        {
            StampFile.WriteIfDifferent(chartFile, BarChart.Svg(data));
            StampFile.WriteIfDifferent(heatmapFile, Heatmap.Svg(data));
        }
        if (timeChart)
            StampFile.WriteIfDifferent(timeFile, TimeChart.Svg(data));
        else if (File.Exists(timeFile))
            File.Delete(timeFile);
        WriteResultsJson(Path.Combine(dir, "results.json"), tasks.Select(t => t.Name).ToList(), evaluated, scores, chance);

        int upToDate = Steps.Length - ran.Count;
        int cached = EvaluationPairs.Count(p => File.Exists(p.GetMetadata("ResultFile"))) - scoredNow;
        int unscored = EvaluationPairs.Length - scoredNow - cached;
        string missing = unscored > 0 ? $", {unscored} not scored" : "";
        if (ran.Count == 0 && scoredNow == 0)
            Log.LogMessage(MessageImportance.High, $"LlmMerge: nothing to do: {upToDate} step(s) up to date, {cached} evaluation(s) cached{missing}. Report: {ReportFile}");
        else
            Log.LogMessage(MessageImportance.High, $"LlmMerge: ran {ran.Count} step(s) ({string.Join(", ", ran)}), {upToDate} up to date; {scoredNow} evaluation(s) run, {cached} cached{missing}. Report: {ReportFile}");
        return !Log.HasLoggedErrors;
    }

    private static string Cell(double? v) => v is null ? "n/a" : v.Value.ToString("F3", CultureInfo.InvariantCulture);

    private static string Cell(double? v, string format) => v is null ? "n/a" : v.Value.ToString(format, CultureInfo.InvariantCulture);

    private static (double?, long?) ReadStats(string file)
    {
        if (!File.Exists(file)) return (null, null);
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(file));
            return (node?["seconds"]?.GetValue<double>(), node?["peak_rss_bytes"]?.GetValue<long>());
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return (null, null);
        }
    }

    private static void WriteResultsJson(string path, List<string> tasks, List<ITaskItem> models, Dictionary<(string, string), double> scores, Dictionary<string, double?> chance)
    {
        var root = new JsonObject();
        var m = new JsonObject();
        foreach (var model in models)
        {
            var row = new JsonObject();
            foreach (string t in tasks)
                row[t] = scores.TryGetValue((model.ItemSpec, t), out double v) ? v : null;
            m[model.ItemSpec] = row;
        }
        root["models"] = m;
        var c = new JsonObject();
        foreach (string t in tasks) c[t] = chance[t];
        root["chance"] = c;
        StampFile.WriteIfDifferent(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
