using System.Globalization;
using System.Text.Json;
using LlmMerge.Core;
using Parquet.Serialization;

namespace LlmMerge.Eval.Tasks;

/// <summary>
/// Reads local data files into <see cref="TaskDoc"/>s as Hugging Face datasets' json, csv and parquet builders
/// would: JSON Lines or a JSON array of objects; CSV with a header, each column typed as pandas infers it
/// (all integers → integer, all numbers → float, else text; empty → null); Parquet with its own types.
/// </summary>
public static class DatasetFiles
{
    /// <summary>The builder (json, csv or parquet) that reads <paramref name="path"/>, from its extension; null for others.</summary>
    public static string? FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".jsonl" or ".json" or ".ndjson" => "json",
        ".csv" => "csv",
        ".parquet" => "parquet",
        _ => null,
    };

    /// <summary>The records of <paramref name="path"/>, read with <paramref name="format"/> (json, csv or parquet).</summary>
    public static List<TaskDoc> Read(string path, string format)
    {
        if (!File.Exists(path))
            throw new LlmMergeException($"{path}: data file not found.");
        return format switch
        {
            "json" => ReadJson(path),
            "csv" => ReadCsv(path),
            "parquet" => ReadParquet(path),
            _ => throw new LlmMergeException($"{path}: unknown data format '{format}'; use json (JSON Lines), csv or parquet."),
        };
    }

    private static List<TaskDoc> ReadJson(string path)
    {
        string text = File.ReadAllText(path);
        var docs = new List<TaskDoc>();
        string trimmed = text.TrimStart();
        if (trimmed.StartsWith('['))
        {
            // A JSON array of records: positions are array indices, as a line number means little there.
            try
            {
                using var array = JsonDocument.Parse(text);
                int i = 0;
                foreach (JsonElement item in array.RootElement.EnumerateArray())
                {
                    docs.Add(new TaskDoc(ObjectOf(item, $"{path}:record {i}"), $"{path}:record {i}"));
                    i++;
                }
            }
            catch (JsonException e)
            {
                throw new LlmMergeException($"{path}:{(e.LineNumber ?? 0) + 1}: not valid JSON: {e.Message}");
            }

            return docs;
        }

        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0) continue;
            string where = $"{path}:{i + 1}";
            try
            {
                using var doc = JsonDocument.Parse(line);
                docs.Add(new TaskDoc(ObjectOf(doc.RootElement, where), where));
            }
            catch (JsonException e)
            {
                throw new LlmMergeException($"{where}: not a JSON object: {e.Message}");
            }
        }

        return docs;
    }

    private static Dictionary<string, object?> ObjectOf(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new LlmMergeException($"{where}: expected a JSON object (one record), found {e.ValueKind}.");
        return (Dictionary<string, object?>)FromJson(e)!;
    }

    private static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long l) ? l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => FromJson(p.Value), StringComparer.Ordinal),
        _ => null,
    };

    private static List<TaskDoc> ReadCsv(string path)
    {
        var (header, records) = CsvFile.Read(path);
        int n = header.Fields.Count;
        foreach (CsvRecord r in records)
        {
            if (r.Fields.Count != n)
                throw new LlmMergeException($"{path}:{r.Line}: the row has {r.Fields.Count} fields but the header has {n}.");
        }

        // Column types as pandas infers them, so a label column of digits is an integer as lm-eval expects.
        var types = new Func<string, object?>[n];
        for (int c = 0; c < n; c++)
        {
            var values = records.Select(r => r.Fields[c]).Where(v => v.Length > 0).ToList();
            if (values.Count > 0 && values.All(v => long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)))
                types[c] = v => v.Length == 0 ? null : long.Parse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            else if (values.Count > 0 && values.All(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
                types[c] = v => v.Length == 0 ? null : double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture);
            else
                types[c] = v => v.Length == 0 ? null : v;
        }

        return records.Select(r =>
        {
            var fields = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (int c = 0; c < n; c++) fields[header.Fields[c]] = types[c](r.Fields[c]);
            return new TaskDoc(fields, $"{path}:{r.Line}");
        }).ToList();
    }

    private static List<TaskDoc> ReadParquet(string path)
    {
        DeserializationResult<Dictionary<string, object>> result;
        try
        {
            using var stream = File.OpenRead(path);
            result = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not LlmMergeException and not OutOfMemoryException)
        {
            throw new LlmMergeException($"{path}: cannot read as Parquet: {e.Message}");
        }

        var docs = new List<TaskDoc>(result.Data.Count);
        for (int i = 0; i < result.Data.Count; i++)
        {
            var fields = result.Data[i].ToDictionary(kv => kv.Key, kv => Normalize(kv.Value), StringComparer.Ordinal);
            docs.Add(new TaskDoc(fields, $"{path}:row {i}"));
        }

        return docs;
    }

    // Parquet hands back CLR types (int, float, arrays, nested dictionaries); scoring sees the JSON shapes.
    private static object? Normalize(object? v) => v switch
    {
        null => null,
        string s => s,
        ReadOnlyMemory<char> m => m.ToString(), // list items of strings come back as character memory
        bool b => b,
        sbyte or byte or short or ushort or int or uint or long => Convert.ToInt64(v, CultureInfo.InvariantCulture),
        ulong u => (long)u,
        float f => (double)f,
        double d => d,
        decimal m => (double)m,
        IDictionary<string, object> d => d.ToDictionary(kv => kv.Key, kv => Normalize(kv.Value), StringComparer.Ordinal),
        System.Collections.IDictionary d => d.Keys.Cast<object>().ToDictionary(k => Convert.ToString(k, CultureInfo.InvariantCulture)!, k => Normalize(d[k]), StringComparer.Ordinal),
        System.Collections.IEnumerable e => e.Cast<object?>().Select(Normalize).ToList(),
        _ => Convert.ToString(v, CultureInfo.InvariantCulture),
    };
}
