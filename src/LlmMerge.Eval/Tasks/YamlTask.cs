using System.Globalization;
using LlmMerge.Core;

namespace LlmMerge.Eval.Tasks;

/// <summary>
/// Builds a task from an lm-eval task YAML: each record of the scored split (test_split, else validation_split)
/// becomes a row whose context is description + few-shot examples + doc_to_text, laid out as lm-eval's
/// fewshot_context and build_qa_turn do (lm_eval/api/task.py at 4e7e0d47), with doc_to_text, doc_to_choice and
/// doc_to_target read as its ConfigurableTask reads them. generate_until rows keep their reference (doc_to_target,
/// or the gold choice's text when the task has doc_to_choice, as lm-eval's process_results takes it).
/// </summary>
public static class YamlTask
{
    /// <summary>Loads the task at <paramref name="path"/>; <paramref name="numFewshot"/> overrides the YAML's num_fewshot.</summary>
    public static EvalTask Load(string path, int? numFewshot = null)
    {
        TaskConfig config = TaskConfig.Load(path);
        var splits = TaskDataset.Load(config);

        string evalSplit = config.TestSplit ?? config.ValidationSplit
            ?? throw new LlmMergeException($"{path}: set test_split (or validation_split) to the split to score.");
        List<TaskDoc> docs = Split(splits, evalSplit, config, "the scored split");

        int shots = numFewshot ?? config.NumFewshot;
        List<TaskDoc> fewshotDocs = [];
        bool sameSplit = false;
        if (shots > 0)
        {
            // lm-eval's order: fewshot_split, else the training split, else validation, else the scored split itself.
            string fewshotSplit = config.FewshotSplit ?? config.TrainingSplit ?? config.ValidationSplit ?? evalSplit;
            fewshotDocs = Split(splits, fewshotSplit, config, "the few-shot split");
            sameSplit = fewshotSplit == evalSplit;
            int available = fewshotDocs.Count - (sameSplit ? 1 : 0);
            if (available < shots)
                throw new LlmMergeException($"{path}: num_fewshot is {shots} but split '{fewshotSplit}' offers only {available} example(s){(sameSplit ? " besides the scored row" : "")}.");
        }

        var reader = new DocReader(config);
        var description = DocTemplate.HasMarkup(config.Description) ? DocTemplate.Parse(config.Description, $"{path}: description") : null;
        var sampler = new FewshotSampler(fewshotDocs.Count, config.FewshotSampler == "first_n");
        bool generate = config.Generation is not null;
        var rows = new List<EvalRow>(docs.Count);
        for (int i = 0; i < docs.Count; i++)
        {
            TaskDoc doc = docs[i];
            string desc = description?.Render(doc) ?? config.Description;
            var examples = new List<FewshotExample>();
            if (shots > 0)
            {
                foreach (int e in sampler.Draw(shots, sameSplit ? i : null))
                    examples.Add(new FewshotExample(reader.Text(fewshotDocs[e]), reader.TargetText(fewshotDocs[e])));
            }

            string question = reader.Text(doc);
            var context = new System.Text.StringBuilder(desc);
            foreach (var (q, a) in examples)
            {
                // build_qa_turn: the target delimiter and the few-shot delimiter only around an answer.
                context.Append(q);
                if (a.Length > 0) context.Append(config.TargetDelimiter).Append(a).Append(config.FewshotDelimiter);
            }

            context.Append(question);
            string id = i.ToString(CultureInfo.InvariantCulture);
            EvalRow row;
            if (!generate)
            {
                IReadOnlyList<string> choices = reader.Choices(doc);
                row = new EvalRow(id, context.ToString(), choices, reader.Gold(doc, choices), null, RowKind.MultipleChoice, doc.Source);
            }
            else if (config.DocToChoice is not null)
            {
                IReadOnlyList<string> choices = reader.Choices(doc);
                int gold = reader.Gold(doc, choices);
                row = new EvalRow(id, context.ToString(), choices, gold, choices[gold], RowKind.Generation, doc.Source);
            }
            else
            {
                object? target = reader.Target(doc);
                row = target is List<object?> many
                    ? new EvalRow(id, context.ToString(), [], null, many.Count > 0 ? PythonLiteral.ToStr(many[0]) : null, RowKind.Generation, doc.Source)
                    {
                        TargetTexts = many.Select(PythonLiteral.ToStr).ToList(),
                    }
                    : new EvalRow(id, context.ToString(), [], null, PythonLiteral.ToStr(target), RowKind.Generation, doc.Source);
            }

            rows.Add(row with { Description = desc, Examples = examples, Question = question });
        }

        return new EvalTask(config.Task, path, config.TargetDelimiter, config.Metrics, shots, rows)
        {
            FewshotDelimiter = config.FewshotDelimiter,
            Generation = config.Generation,
            Repeats = config.Repeats,
            Filters = config.Filters,
            MetricSpecs = config.MetricSpecs,
        };
    }

    private static List<TaskDoc> Split(Dictionary<string, List<TaskDoc>> splits, string name, TaskConfig config, string role) =>
        splits.TryGetValue(name, out var docs)
            ? docs
            : throw new LlmMergeException($"{config.SourcePath}: {role} '{name}' is not in the data (splits found: {string.Join(", ", splits.Keys)}).");

    /// <summary>doc_to_text, doc_to_choice and doc_to_target of one task, with their templates parsed once.</summary>
    private sealed class DocReader
    {
        private readonly TaskConfig _config;
        private readonly Spec _text;
        private readonly Spec _target;
        private readonly Spec? _choiceSingle;
        private readonly List<DocTemplate>? _choiceList;

        public DocReader(TaskConfig config)
        {
            _config = config;
            _text = new Spec(config.DocToText, $"{config.SourcePath}: doc_to_text");
            _target = new Spec(config.DocToTarget, $"{config.SourcePath}: doc_to_target");
            if (config.DocToChoice is List<string> list)
                _choiceList = list.Select(t => DocTemplate.Parse(t, $"{config.SourcePath}: doc_to_choice")).ToList();
            else if (config.DocToChoice is not null)
                _choiceSingle = new Spec(config.DocToChoice, $"{config.SourcePath}: doc_to_choice");
        }

        public string Text(TaskDoc doc)
        {
            object? v = _text.Value(doc, "doc_to_text");
            if (v is long) throw new LlmMergeException($"{_config.SourcePath}: doc_to_text as an integer (lm-eval's multiple-input tasks) is not supported.");
            return PythonLiteral.ToStr(v);
        }

        public IReadOnlyList<string> Choices(TaskDoc doc)
        {
            if (_choiceList is not null) return _choiceList.Select(t => t.Render(doc)).ToList();
            object? v = _choiceSingle!.Value(doc, "doc_to_choice");
            if (v is string rendered && !_choiceSingle.IsField(doc))
            {
                try
                {
                    v = PythonLiteral.Parse(rendered);
                }
                catch (FormatException e)
                {
                    throw new LlmMergeException($"{doc.Source}: doc_to_choice rendered '{Short(rendered)}', which is not a Python list literal: {e.Message}");
                }
            }

            return v switch
            {
                List<object?> items when items.Count > 0 => items.Select(PythonLiteral.ToStr).ToList(),
                IReadOnlyDictionary<string, object?> d when d.Count > 0 => d.Values.Select(PythonLiteral.ToStr).ToList(),
                _ => throw new LlmMergeException($"{doc.Source}: doc_to_choice gave {Short(PythonLiteral.Repr(v))}, not a non-empty list of choices."),
            };
        }

        /// <summary>The target as lm-eval's doc_to_target returns it: an index, or a string.</summary>
        public object? Target(TaskDoc doc)
        {
            object? v = _target.Value(doc, "doc_to_target");
            if (v is string s && !_target.IsField(doc) && _target.IsTemplate)
            {
                if (s.Length > 0 && s.All(char.IsAsciiDigit)) return long.Parse(s, CultureInfo.InvariantCulture);
                if (s.Length >= 2 && s[0] == '[' && s[^1] == ']')
                {
                    try { return PythonLiteral.Parse(s); }
                    catch (FormatException) { return s; }
                }
            }

            return v;
        }

        // The answer of a few-shot example, as build_qa_turn takes it: a choice by index, the first of several targets, or the text.
        public string TargetText(TaskDoc doc)
        {
            object? t = Target(doc);
            if (t is string s) return s;
            if (t is List<object?> list) return list.Count > 0 ? PythonLiteral.ToStr(list[0]) : "";
            if (_choiceList is null && _choiceSingle is null) return PythonLiteral.ToStr(t);
            IReadOnlyList<string> choices = Choices(doc);
            return choices[Gold(doc, choices, t)];
        }

        public int Gold(TaskDoc doc, IReadOnlyList<string> choices) => Gold(doc, choices, Target(doc));

        private static int Gold(TaskDoc doc, IReadOnlyList<string> choices, object? target)
        {
            long index = target switch
            {
                long l => l,
                bool b => b ? 1 : 0,
                double d when d == Math.Floor(d) => (long)d,
                string s => choices.ToList().IndexOf(s) is int k and >= 0
                    ? k
                    : throw new LlmMergeException($"{doc.Source}: the target '{Short(s)}' is not one of the choices {Short(PythonLiteral.Repr(choices))}."),
                List<object?> => throw new LlmMergeException($"{doc.Source}: the target is a list (several correct answers), which is not supported."),
                _ => throw new LlmMergeException($"{doc.Source}: the target {PythonLiteral.Repr(target)} is not a choice index or a choice."),
            };
            if (index < 0 || index >= choices.Count)
                throw new LlmMergeException($"{doc.Source}: the target index {index} is out of range for {choices.Count} choices.");
            return (int)index;
        }

        private static string Short(string s) => s.Length <= 80 ? s : s[..77] + "...";
    }

    /// <summary>A doc_to_* value: an integer, a field name, or a template, decided per record as lm-eval does (a field name wins).</summary>
    private sealed class Spec
    {
        private readonly object _raw;
        private readonly DocTemplate? _template;

        public Spec(object raw, string where)
        {
            _raw = raw;
            if (raw is string s) _template = DocTemplate.Parse(s, where);
        }

        public bool IsTemplate => _template is not null;

        private static bool IsName(string s) =>
            s.Length > 0 && (char.IsAsciiLetter(s[0]) || s[0] == '_') && s.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

        public bool IsField(TaskDoc doc) => _raw is string s && doc.Fields.ContainsKey(s);

        public object? Value(TaskDoc doc, string key) => _raw switch
        {
            long l => l,
            string s when doc.Fields.TryGetValue(s, out object? v) => v,
            // lm-eval would print a bare name that is not a field as text; it is almost always a missing column.
            string s when IsName(s) => throw new LlmMergeException($"{doc.Source}: {key} names the field '{s}', which the record does not have (it has: {string.Join(", ", doc.Fields.Keys)})."),
            string => _template!.Render(doc),
            _ => throw new LlmMergeException($"{doc.Source}: {key} has an unsupported form."),
        };
    }
}
