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
            w.WriteNumber("rows_per_second", Math.Round(report.RowsPerSecond, 2));
            w.WriteNumber("batch_size", report.BatchSize);
            if (report.ChatTemplate is string template) w.WriteString("chat_template", template);
            else w.WriteNull("chat_template");
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

            // lm-eval's logged arguments: per choice the context exactly as the model got it and the continuation.
            w.WriteStartObject("arguments");
            for (int i = 0; i < scores.Arguments.Count; i++)
            {
                w.WriteStartObject($"gen_args_{i}");
                w.WriteString("arg_0", scores.Arguments[i].Context);
                w.WriteString("arg_1", scores.Arguments[i].Continuation);
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// One SAMPLES.jsonl line for a generation row (no line break): lm-eval's logged sample fields (arguments: the
    /// prompt as rendered and the generation kwargs; resps; filtered_resps per filter chain; the row's metrics), the
    /// prediction and the target.
    /// </summary>
    public static string Sample(string task, EvalRow row, PreparedGeneration prepared, GenerationScores scores)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(scores);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Compact))
        {
            w.WriteStartObject();
            w.WriteString("task", task);
            w.WriteString("id", row.Id);
            if (row.Choices.Count > 0)
            {
                w.WriteStartArray("choices");
                foreach (string c in row.Choices) w.WriteStringValue(c);
                w.WriteEndArray();
            }

            w.WriteStartObject("arguments");
            w.WriteStartObject("gen_args_0");
            w.WriteString("arg_0", prepared.Encoded.Context);
            w.WritePropertyName("arg_1");
            WriteValue(w, prepared.Encoded.Task.Generation?.Arguments ?? new Dictionary<string, object?>
            {
                ["until"] = new List<object?>(),
                ["max_gen_toks"] = (long)(prepared.Requests.Count > 0 ? prepared.Requests[0].MaxNewTokens : 0),
                ["do_sample"] = false,
            });
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartArray("resps");
            foreach (string r in scores.Responses) w.WriteStringValue(r);
            w.WriteEndArray();
            w.WriteStartObject("filtered_resps");
            foreach (var (chain, answer) in scores.Filtered) w.WriteString(chain, answer);
            w.WriteEndObject();
            switch (scores.Prediction)
            {
                case int index: w.WriteNumber("prediction", index); break;
                case string text: w.WriteString("prediction", text); break;
                default: w.WriteNull("prediction"); break;
            }

            if (row.Target is int target) w.WriteNumber("target", target);
            else if (row.TargetTexts is { } many)
            {
                w.WriteStartArray("target");
                foreach (string t in many) w.WriteStringValue(t);
                w.WriteEndArray();
            }
            else if (row.TargetText is string text) w.WriteString("target", text);
            else w.WriteNull("target");
            w.WriteStartObject("metrics");
            foreach (var (name, value) in scores.Metrics) w.WriteNumber(name, value);
            w.WriteEndObject();
            w.WriteBoolean("truncated", scores.Truncated);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); break;
            case bool b: w.WriteBooleanValue(b); break;
            case long l: w.WriteNumberValue(l); break;
            case int i: w.WriteNumberValue(i); break;
            case double d: w.WriteNumberValue(d); break;
            case string s: w.WriteStringValue(s); break;
            case IReadOnlyDictionary<string, object?> d:
                w.WriteStartObject();
                foreach (var (k, v) in d)
                {
                    w.WritePropertyName(k);
                    WriteValue(w, v);
                }

                w.WriteEndObject();
                break;
            case System.Collections.IEnumerable list:
                w.WriteStartArray();
                foreach (object? item in list) WriteValue(w, item);
                w.WriteEndArray();
                break;
            default: w.WriteStringValue(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)); break;
        }
    }

    private static void WriteNumberOrNull(Utf8JsonWriter w, string name, double? value)
    {
        if (value is double v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }
}
