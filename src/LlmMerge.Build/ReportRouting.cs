using System.Globalization;
using System.Text;
using LlmMerge.Contracts.Results;
using Microsoft.Build.Framework;

namespace LlmMerge.Build;

/// <summary>
/// The report's routing section: for each routed system scored in the graph, how many of each task's rows went to
/// each expert (RESULTS.json's optional routed_rows). Empty where no model routes per row.
/// </summary>
internal static class ReportRouting
{
    public static string Markdown(IEnumerable<ITaskItem> evaluationPairs)
    {
        var rows = new List<(string Model, string Task, IReadOnlyDictionary<string, int> Routed)>();
        foreach (var p in evaluationPairs)
        {
            if (ResultsSchema.Read(p.GetMetadata("ResultFile"))?.FirstTask?.RoutedRows is { } routed)
                rows.Add((p.GetMetadata("Model"), p.GetMetadata("TaskName"), routed));
        }
        if (rows.Count == 0)
            return "";
        var md = new StringBuilder("## Routing\n\nRows of each task sent to each expert by the routed systems.\n\n| router | task | rows per expert |\n| --- | --- | --- |\n");
        foreach (var (model, task, routed) in rows)
        {
            int total = routed.Values.Sum();
            md.Append(CultureInfo.InvariantCulture, $"| {model} | {task} | ")
              .Append(string.Join(", ", routed.Where(r => r.Value > 0).Select(r => $"{r.Key} {r.Value} ({(total > 0 ? 100.0 * r.Value / total : 0):F1} %)")))
              .Append(" |\n");
        }
        return md.Append('\n').ToString();
    }
}
