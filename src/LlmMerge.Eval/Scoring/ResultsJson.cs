using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using LlmMerge.Contracts.Results;
using LlmMerge.Eval.Tasks;

namespace LlmMerge.Eval.Scoring;

/// <summary>Writes RESULTS.json and SAMPLES.jsonl lines (the eval verb's firm output contract).</summary>
public static class ResultsJson
{
    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The scoring mode as the CLI spells it.</summary>
    public static string ModeName(ScoringMode mode) => mode == ScoringMode.StarterKit ? "starter-kit" : "lm-eval";

    /// <summary>RESULTS.json's text for <paramref name="report"/>, in the schema the graph's tasks read (LlmMerge.Contracts).</summary>
    public static string Results(EvalReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return ResultsSchema.Write(new ResultsDocument(
            report.ModelDir,
            ModeName(report.Scoring),
            report.Device,
            report.Limit,
            report.Tasks.Select(t => new KeyValuePair<string, TaskResults>(t.Name,
                new TaskResults(t.File, t.Rows, t.MultipleChoiceRows, t.GenerationRows, t.LabeledRows, t.NumFewshot, t.Chance, t.Metrics) { RoutedRows = t.RoutedRows })).ToList(),
            report.Average,
            report.WallSeconds,
            report.ScoringSeconds,
            report.Tokens,
            report.TokensPerSecond,
            report.PeakRssBytes));
    }

    /// <summary>One SAMPLES.jsonl line for a scored multiple-choice row (no line break); a routed system's row names its <paramref name="expert"/>.</summary>
    public static string Sample(string task, EvalRow row, ChoiceScores scores, string? expert = null)
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
            if (expert is not null) w.WriteString("expert", expert);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
