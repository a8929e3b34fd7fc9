using System.Text;
using LlmMerge.Core;

namespace LlmMerge.Eval.Tasks;

/// <summary>One CSV record: its fields and the 1-based line of the file where it starts.</summary>
public sealed record CsvRecord(IReadOnlyList<string> Fields, int Line);

/// <summary>
/// Reads RFC 4180 CSV as pandas' default reader accepts it: comma separated, fields optionally in double quotes,
/// <c>""</c> for a quote inside quotes, line breaks inside quoted fields. Records keep their starting line so an
/// error can point at the row a person sees in an editor.
/// </summary>
public static class CsvFile
{
    /// <summary>The header and the records of <paramref name="path"/>; blank lines are skipped, as pandas does.</summary>
    public static (CsvRecord Header, IReadOnlyList<CsvRecord> Rows) Read(string path)
    {
        if (!File.Exists(path))
            throw new LlmMergeException($"{path}: task file not found.");
        var records = Parse(File.ReadAllText(path, Encoding.UTF8), path);
        if (records.Count == 0)
            throw new LlmMergeException($"{path}: the CSV file is empty; it needs a header line.");
        return (records[0], records.Skip(1).ToList());
    }

    /// <summary>Splits <paramref name="text"/> into records; <paramref name="source"/> names the file in errors.</summary>
    public static List<CsvRecord> Parse(string text, string source)
    {
        var records = new List<CsvRecord>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, recordLine = 1, i = 0;
        bool inRecord = false;
        while (i < text.Length)
        {
            char c = text[i];
            if (!inRecord)
            {
                // A record starts here unless the line is blank.
                if (c == '\n' || c == '\r')
                {
                    i += c == '\r' && i + 1 < text.Length && text[i + 1] == '\n' ? 2 : 1;
                    line++;
                    continue;
                }

                inRecord = true;
                recordLine = line;
                if (i == 0 && c == '\uFEFF') { i++; inRecord = false; continue; }
            }

            if (c == '"' && field.Length == 0)
            {
                // Quoted field: runs to the closing quote, which must be followed by a comma or a line end.
                int openLine = line;
                i++;
                while (true)
                {
                    if (i >= text.Length)
                        throw new LlmMergeException($"{source}:{openLine}: a quoted field is never closed (missing '\"').");
                    char q = text[i];
                    if (q == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }

                    if (q == '\n') line++;
                    field.Append(q);
                    i++;
                }

                if (i < text.Length && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
                    throw new LlmMergeException($"{source}:{line}: unexpected text after a closing quote; a quote inside a quoted field is written \"\".");
                continue;
            }

            if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
                i++;
                continue;
            }

            if (c == '\n' || c == '\r')
            {
                fields.Add(field.ToString());
                field.Clear();
                records.Add(new CsvRecord(fields.ToArray(), recordLine));
                fields.Clear();
                inRecord = false;
                i += c == '\r' && i + 1 < text.Length && text[i + 1] == '\n' ? 2 : 1;
                line++;
                continue;
            }

            field.Append(c);
            i++;
        }

        if (inRecord)
        {
            fields.Add(field.ToString());
            records.Add(new CsvRecord(fields.ToArray(), recordLine));
        }

        return records;
    }

    /// <summary>A field as CSV text: quoted when it holds a comma, quote or line break.</summary>
    public static string Quote(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
}
