using System.Globalization;
using LlmMerge.Core;

namespace LlmMerge.Eval.Tasks;

/// <summary>
/// The LLM Merging competition's task CSV: columns <c>id, input, target?, answer_choices, eval_type</c> in any
/// order; <c>answer_choices</c> a Python list literal (empty for generation rows); <c>eval_type</c>
/// <c>multiple_choice</c> or <c>generation</c>. The input is the whole prompt, so rows take no few-shot examples.
/// </summary>
public static class CompetitionCsvTask
{
    private static readonly string[] Required = ["id", "input", "answer_choices", "eval_type"];

    /// <summary>Reads <paramref name="path"/> into a task named after the file.</summary>
    public static EvalTask Load(string path)
    {
        var (header, records) = CsvFile.Read(path);
        var columns = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < header.Fields.Count; i++) columns.TryAdd(header.Fields[i].Trim(), i);
        string[] missing = Required.Where(c => !columns.ContainsKey(c)).ToArray();
        if (missing.Length > 0)
            throw new LlmMergeException($"{path}:{header.Line}: missing column{(missing.Length > 1 ? "s" : "")} {string.Join(", ", missing)}; the competition's CSV has id, input, target (optional), answer_choices, eval_type.");

        int? targetColumn = columns.TryGetValue("target", out int t) ? t : null;
        var rows = new List<EvalRow>(records.Count);
        foreach (CsvRecord record in records)
        {
            string where = $"{path}:{record.Line}";
            if (record.Fields.Count != header.Fields.Count)
                throw new LlmMergeException($"{where}: the row has {record.Fields.Count} fields but the header has {header.Fields.Count}.");

            string Field(int column) => record.Fields[column];
            string id = Field(columns["id"]);
            string input = Field(columns["input"]);
            string evalType = Field(columns["eval_type"]).Trim();
            string choicesText = Field(columns["answer_choices"]).Trim();
            string? target = targetColumn is int tc ? Field(tc) : null;
            if (IsMissing(target)) target = null;

            switch (evalType)
            {
                case "multiple_choice":
                {
                    if (IsMissing(choicesText))
                        throw new LlmMergeException($"{where}: row id {id} is multiple_choice but has no answer_choices.");
                    List<string> choices;
                    try
                    {
                        choices = PythonLiteral.ParseStringList(choicesText);
                    }
                    catch (FormatException e)
                    {
                        throw new LlmMergeException($"{where}: row id {id}: answer_choices does not parse as a Python list of strings: {e.Message}");
                    }

                    if (choices.Count == 0)
                        throw new LlmMergeException($"{where}: row id {id}: answer_choices is an empty list.");
                    rows.Add(new EvalRow(id, input, choices, TargetIndex(target, choices, where, id), null, RowKind.MultipleChoice, where));
                    break;
                }

                case "generation":
                    rows.Add(new EvalRow(id, input, [], null, target, RowKind.Generation, where));
                    break;
                default:
                    throw new LlmMergeException($"{where}: row id {id}: eval_type '{evalType}' is neither multiple_choice nor generation.");
            }
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (EvalRow row in rows)
        {
            if (!ids.Add(row.Id))
                throw new LlmMergeException($"{row.Source}: id {row.Id} appears twice; a submission needs each id once.");
        }

        // Generation rows with a reference are scored by ROUGE F-measure (Hugging Face evaluate's "rouge", no stemming).
        return new EvalTask(Path.GetFileNameWithoutExtension(path), path, " ", [MetricNames.Acc, MetricNames.AccNorm], 0, rows)
        {
            MetricSpecs = [new MetricSpec(MetricNames.Acc), new MetricSpec(MetricNames.AccNorm), new MetricSpec(MetricNames.Rouge, RougeTypes: ["rouge1", "rouge2", "rougeL"])],
        };
    }

    // pandas reads an empty field and the text "None" (among others) as NaN; the starter kit drops such answer_choices.
    private static bool IsMissing(string? field) => field is null || field.Trim() is "" or "None" or "nan" or "NaN";

    private static int? TargetIndex(string? target, List<string> choices, string where, string id)
    {
        if (target is null) return null;
        if (long.TryParse(target.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long index))
        {
            if (index < 0 || index >= choices.Count)
                throw new LlmMergeException($"{where}: row id {id}: target {index} is out of range for {choices.Count} answer choices (0-based).");
            return (int)index;
        }

        // A target given as the choice's text (the starter kit's find_label) is accepted too.
        int found = choices.IndexOf(target);
        if (found < 0)
            throw new LlmMergeException($"{where}: row id {id}: target '{target}' is neither a 0-based index nor one of the answer choices.");
        return found;
    }
}
