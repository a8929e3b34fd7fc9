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
            report.PeakRssBytes)
        {
            RowsPerSecond = report.RowsPerSecond,
            BatchSize = report.BatchSize,
            ChatTemplate = report.ChatTemplate,
        });
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
            if (expert is not null) w.WriteString("expert", expert);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// One SAMPLES.jsonl line for a generation row (no line break): lm-eval's logged sample fields (arguments: the
    /// prompt as rendered and the generation kwargs; resps; filtered_resps per filter chain; the row's metrics), the
    /// prediction and the target.
    /// </summary>
    public static string Sample(string task, EvalRow row, PreparedGeneration prepared, GenerationScores scores, string? expert = null)
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
            if (expert is not null) w.WriteString("expert", expert);
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
}
