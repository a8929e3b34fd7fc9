using System.Text;
using LlmMerge.Contracts.Fingerprints;
using LlmMerge.Eval.Tasks;

namespace LlmMerge.Search.Tasks;

/// <summary>A task's content: the rows scored as the scorer sees them (contexts with their few-shot examples, choices, targets) and how they are joined.</summary>
public static class TaskFingerprint
{
    public static string Of(EvalTask task, string metric)
    {
        var sb = new StringBuilder("task v1\n");
        sb.Append(task.Name).Append('\n').Append(metric).Append('\n').Append(task.TargetDelimiter).Append('\0').Append('\n');
        foreach (var r in task.Rows)
        {
            sb.Append(r.Id).Append('\0').Append(r.Kind).Append('\0').Append(r.Target?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-").Append('\0')
              .Append(r.Context).Append('\0').Append(string.Join("\u0001", r.Choices)).Append('\n');
        }
        return ContentHash.Sha256(sb.ToString());
    }
}
