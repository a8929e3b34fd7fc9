using System.Text.Json.Nodes;

namespace LlmMerge.Build;

/// <summary>Reads the accuracy out of an <c>llmmerge eval</c> RESULTS.json (DESIGN.md: per-task metrics, accuracy in 0..1, and the average).</summary>
internal static class Scores
{
    /// <summary>
    /// The first task's <c>metrics.acc</c> (each evaluation pair scores one task), else the average's <c>acc</c>;
    /// null when the file is missing, unreadable, or the task had no labelled rows.
    /// </summary>
    public static double? Accuracy(string resultFile)
    {
        if (!File.Exists(resultFile)) return null;
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(resultFile));
            if (root?["tasks"] is JsonObject tasks)
            {
                foreach (var (_, task) in tasks)
                {
                    if (Number(task?["metrics"]?["acc"]) is { } acc)
                        return acc;
                }
            }
            return Number(root?["average"]?["acc"]);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static double? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue(out double d) ? d : null;
}
