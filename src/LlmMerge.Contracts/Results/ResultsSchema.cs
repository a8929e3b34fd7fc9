using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace LlmMerge.Contracts.Results;

/// <summary>Writes and reads RESULTS.json; the evaluator writes through it and the graph's tasks read through it.</summary>
public static class ResultsSchema
{
    public const string Accuracy = "acc";

    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The file's text (indented, a final line break).</summary>
    public static string Write(ResultsDocument results)
    {
        ArgumentNullException.ThrowIfNull(results);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Indented))
        {
            w.WriteStartObject();
            w.WriteString("model", results.Model);
            w.WriteString("scoring", results.Scoring);
            w.WriteString("device", results.Device);
            if (results.Limit is int limit) w.WriteNumber("limit", limit);
            else w.WriteNull("limit");
            w.WriteStartObject("tasks");
            foreach (var (name, t) in results.Tasks)
            {
                w.WriteStartObject(name);
                w.WriteString("file", t.File);
                w.WriteNumber("rows", t.Rows);
                w.WriteNumber("multiple_choice_rows", t.MultipleChoiceRows);
                w.WriteNumber("generation_rows", t.GenerationRows);
                w.WriteNumber("labeled_rows", t.LabeledRows);
                w.WriteNumber("num_fewshot", t.NumFewshot);
                NumberOrNull(w, "chance", t.Chance);
                w.WriteStartObject("metrics");
                foreach (var (metric, value) in t.Metrics) NumberOrNull(w, metric, value);
                w.WriteEndObject();
                if (t.RoutedRows is { } routed)
                {
                    w.WriteStartObject("routed_rows");
                    foreach (var (expert, count) in routed) w.WriteNumber(expert, count);
                    w.WriteEndObject();
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteStartObject("average");
            foreach (var (metric, value) in results.Average) w.WriteNumber(metric, value);
            w.WriteEndObject();
            w.WriteNumber("wall_time_seconds", Math.Round(results.WallTimeSeconds, 3));
            w.WriteNumber("scoring_seconds", Math.Round(results.ScoringSeconds, 3));
            w.WriteNumber("tokens", results.Tokens);
            w.WriteNumber("tokens_per_second", Math.Round(results.TokensPerSecond, 1));
            w.WriteNumber("rows_per_second", Math.Round(results.RowsPerSecond, 2));
            w.WriteNumber("batch_size", results.BatchSize);
            if (results.ChatTemplate is string template) w.WriteString("chat_template", template);
            else w.WriteNull("chat_template");
            w.WriteNumber("peak_rss_bytes", results.PeakRssBytes);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>Reads a RESULTS.json; null when the file is missing or is not one (a damaged cache entry is scored again).</summary>
    public static ResultsDocument? Read(string path)
    {
        if (!File.Exists(path))
            return null;
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Parses RESULTS.json's text; throws <see cref="JsonException"/> or <see cref="KeyNotFoundException"/> when it is not one.</summary>
    public static ResultsDocument Parse(string text)
    {
        using var doc = JsonDocument.Parse(text);
        var root = doc.RootElement;
        var tasks = new List<KeyValuePair<string, TaskResults>>();
        foreach (var task in root.GetProperty("tasks").EnumerateObject())
        {
            var t = task.Value;
            var metrics = new Dictionary<string, double?>(StringComparer.Ordinal);
            foreach (var m in t.GetProperty("metrics").EnumerateObject())
                metrics[m.Name] = m.Value.ValueKind == JsonValueKind.Number ? m.Value.GetDouble() : null;
            tasks.Add(new(task.Name, new TaskResults(
                t.TryGetProperty("file", out var f) ? f.GetString() ?? "" : "",
                Int(t, "rows"),
                Int(t, "multiple_choice_rows"),
                Int(t, "generation_rows"),
                Int(t, "labeled_rows"),
                Int(t, "num_fewshot"),
                t.TryGetProperty("chance", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetDouble() : null,
                metrics)
            {
                RoutedRows = t.TryGetProperty("routed_rows", out var routed) && routed.ValueKind == JsonValueKind.Object
                    ? routed.EnumerateObject().Where(r => r.Value.ValueKind == JsonValueKind.Number).ToDictionary(r => r.Name, r => r.Value.GetInt32(), StringComparer.Ordinal)
                    : null,
            }));
        }
        var average = new Dictionary<string, double>(StringComparer.Ordinal);
        if (root.TryGetProperty("average", out var avg))
            foreach (var m in avg.EnumerateObject().Where(m => m.Value.ValueKind == JsonValueKind.Number))
                average[m.Name] = m.Value.GetDouble();
        return new ResultsDocument(
            root.TryGetProperty("model", out var model) ? model.GetString() ?? "" : "",
            root.TryGetProperty("scoring", out var s) ? s.GetString() ?? "" : "",
            root.TryGetProperty("device", out var d) ? d.GetString() ?? "" : "",
            root.TryGetProperty("limit", out var l) && l.ValueKind == JsonValueKind.Number ? l.GetInt32() : null,
            tasks,
            average,
            Double(root, "wall_time_seconds"),
            Double(root, "scoring_seconds"),
            root.TryGetProperty("tokens", out var tk) && tk.ValueKind == JsonValueKind.Number ? tk.GetInt64() : 0,
            Double(root, "tokens_per_second"),
            root.TryGetProperty("peak_rss_bytes", out var rss) && rss.ValueKind == JsonValueKind.Number ? rss.GetInt64() : 0)
        {
            RowsPerSecond = Double(root, "rows_per_second"),
            BatchSize = root.TryGetProperty("batch_size", out var b) && b.ValueKind == JsonValueKind.Number ? b.GetInt32() : 1,
            ChatTemplate = root.TryGetProperty("chat_template", out var ct) && ct.ValueKind == JsonValueKind.String ? ct.GetString() : null,
        };
    }

    private static int Int(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : 0;

    private static double Double(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;

    private static void NumberOrNull(Utf8JsonWriter w, string name, double? value)
    {
        if (value is double v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }
}
