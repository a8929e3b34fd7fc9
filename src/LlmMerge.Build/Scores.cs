using System.Text.Json.Nodes;

namespace LlmMerge.Build;

/// <summary>Reads the accuracy out of an <c>llmmerge eval</c> RESULTS.json (DESIGN.md: per-task metrics, accuracy in 0..1, and the average).</summary>
internal static class Scores
{
    /// <summary>The first <c>acc</c> (or <c>accuracy</c>) number found outside the average, or null.</summary>
    public static double? Accuracy(string resultFile)
    {
        if (!File.Exists(resultFile)) return null;
        try
        {
            return Find(JsonNode.Parse(File.ReadAllText(resultFile)));
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static double? Find(JsonNode? node)
    {
        if (node is JsonObject obj)
        {
            foreach (var (key, value) in obj)
            {
                if (key is "acc" or "accuracy" && value is JsonValue v && v.TryGetValue(out double d))
                    return d;
            }
            foreach (var (key, value) in obj)
            {
                // The average would do for one task, but a task's own entry is what the report shows.
                if (key is "average" or "mean") continue;
                if (Find(value) is { } d) return d;
            }
            if (obj["average"] is JsonNode avg && Find(avg) is { } a) return a;
        }
        else if (node is JsonArray arr)
        {
            foreach (var child in arr)
                if (Find(child) is { } d) return d;
        }
        return null;
    }
}
