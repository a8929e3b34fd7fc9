using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using LlmMerge.Eval.Tasks;

namespace LlmMerge.Eval.Scoring;

/// <summary>Writes RESULTS.json and SAMPLES.jsonl lines (the eval verb's firm output contract).</summary>
public static class ResultsJson
{
    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The scoring mode as the CLI spells it.</summary>
    public static string ModeName(ScoringMode mode) => mode == ScoringMode.StarterKit ? "starter-kit" : "lm-eval";

    /// <summary>RESULTS.json's text for <paramref name="report"/>.</summary>
    public static string Results(EvalReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Indented))
        {
            w.WriteStartObject();
            w.WriteString("model", report.ModelDir);
            w.WriteString("scoring", ModeName(report.Scoring));
            w.WriteString("device", report.Device);
            if (report.Limit is int limit) w.WriteNumber("limit", limit);
            else w.WriteNull("limit");
            w.WriteStartObject("tasks");
            foreach (TaskResult t in report.Tasks)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("file", t.File);
                w.WriteNumber("rows", t.Rows);
                w.WriteNumber("multiple_choice_rows", t.MultipleChoiceRows);
                w.WriteNumber("generation_rows", t.GenerationRows);
                w.WriteNumber("labeled_rows", t.LabeledRows);
                w.WriteNumber("num_fewshot", t.NumFewshot);
                w.WriteStartObject("metrics");
                foreach (var (name, value) in t.Metrics) WriteNumberOrNull(w, name, value);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteStartObject("average");
            foreach (var (name, value) in report.Average) w.WriteNumber(name, value);
            w.WriteEndObject();
            w.WriteNumber("wall_time_seconds", Math.Round(report.WallSeconds, 3));
            w.WriteNumber("scoring_seconds", Math.Round(report.ScoringSeconds, 3));
            w.WriteNumber("tokens", report.Tokens);
            w.WriteNumber("tokens_per_second", Math.Round(report.TokensPerSecond, 1));
            w.WriteNumber("peak_rss_bytes", report.PeakRssBytes);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>One SAMPLES.jsonl line for a scored multiple-choice row (no line break).</summary>
    public static string Sample(string task, EvalRow row, ChoiceScores scores)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(scores);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Compact))
        {
            w.WriteStartObject();
            w.WriteString("task", task);
            w.WriteString("id", row.Id);
            w.WriteStartArray("choices");
            foreach (string c in row.Choices) w.WriteStringValue(c);
            w.WriteEndArray();
            w.WriteStartArray("loglikelihoods");
            foreach (double ll in scores.LogLikelihoods)
            {
                // JSON has no infinities; a choice the model gives probability zero is the lowest finite number.
                w.WriteNumberValue(double.IsFinite(ll) ? ll : double.IsNaN(ll) ? double.MinValue : Math.Sign(ll) * double.MaxValue);
            }

            w.WriteEndArray();
            w.WriteNumber("prediction", scores.Prediction);
            w.WriteNumber("prediction_norm", scores.PredictionNorm);
            if (row.Target is int target)
            {
                w.WriteNumber("target", target);
                w.WriteNumber("acc", scores.Prediction == target ? 1 : 0);
                w.WriteNumber("acc_norm", scores.PredictionNorm == target ? 1 : 0);
            }
            else
            {
                w.WriteNull("target");
            }

            w.WriteBoolean("truncated", scores.Truncated);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteNumberOrNull(Utf8JsonWriter w, string name, double? value)
    {
        if (value is double v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }
}
