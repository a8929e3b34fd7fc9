using System.Text;

namespace LlmMerge.Build;

/// <summary>What the report needs from a task file: the chance level of its multiple-choice rows.</summary>
internal static class TaskFiles
{
    /// <summary>
    /// The mean of 1/choices over multiple-choice rows of a competition CSV (columns id, input, target?,
    /// answer_choices, eval_type), or null when the file has none or is not such a CSV.
    /// </summary>
    public static double? ChanceLevel(string path)
    {
        if (!path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || !File.Exists(path))
            return null;
        List<List<string>> rows = ReadCsv(File.ReadAllText(path));
        if (rows.Count < 2) return null;
        int choices = rows[0].FindIndex(h => h.Trim() == "answer_choices");
        if (choices < 0) return null;
        double sum = 0;
        int n = 0;
        foreach (var row in rows.Skip(1))
        {
            if (row.Count <= choices) continue;
            int k = CountPythonList(row[choices]);
            if (k <= 0) continue;
            sum += 1.0 / k;
            n++;
        }
        return n == 0 ? null : sum / n;
    }

    /// <summary>RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks.</summary>
    internal static List<List<string>> ReadCsv(string text)
    {
        var rows = new List<List<string>>();
        var row = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else field.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { row.Add(field.ToString()); field.Clear(); }
            else if (c == '\n' || c == '\r')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                row.Add(field.ToString()); field.Clear();
                rows.Add(row); row = [];
            }
            else field.Append(c);
        }
        if (field.Length > 0 || row.Count > 0) { row.Add(field.ToString()); rows.Add(row); }
        return rows;
    }

    /// <summary>Number of elements of a Python list literal of strings, e.g. ['a, b', "c"] has 2; 0 when empty or not a list.</summary>
    internal static int CountPythonList(string literal)
    {
        string s = literal.Trim();
        if (s.Length < 2 || s[0] != '[' || s[^1] != ']') return 0;
        int count = 0;
        char quote = '\0';
        bool any = false;
        for (int i = 1; i < s.Length - 1; i++)
        {
            char c = s[i];
            if (quote != '\0')
            {
                if (c == '\\') i++;
                else if (c == quote) quote = '\0';
            }
            else if (c is '\'' or '"') { quote = c; any = true; }
            else if (c == ',') count++;
            else if (!char.IsWhiteSpace(c)) any = true;
        }
        // "a, b," has a trailing comma in Python; count the separators that have an element after them.
        return any ? count + (s[..^1].TrimEnd().EndsWith(',') ? 0 : 1) : 0;
    }
}
