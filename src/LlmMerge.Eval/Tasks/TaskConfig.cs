using System.Globalization;
using LlmMerge.Core;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Eval.Tasks;

/// <summary>
/// The subset of an lm-evaluation-harness task YAML that llmmerge runs: multiple_choice and generate_until tasks on
/// local json/csv/parquet files (generation_kwargs, repeats, filter_list, exact_match and rouge as lm-eval at
/// 4e7e0d47 reads them). Keys that would change scores but are not supported are refused by name, so a task never
/// runs silently differently from lm-eval.
/// </summary>
public sealed record TaskConfig
{
    private static readonly string[] Supported =
    [
        "task", "dataset_path", "dataset_kwargs", "data_files", "dataset_name", "test_split", "validation_split", "training_split",
        "fewshot_split", "doc_to_text", "doc_to_choice", "doc_to_target", "target_delimiter", "fewshot_delimiter", "num_fewshot",
        "fewshot_config", "description", "metric_list", "output_type", "generation_kwargs", "repeats", "filter_list",
    ];

    // Keys that name, group or describe a task without changing a single score.
    private static readonly string[] Descriptive =
    [
        "tag", "group", "group_alias", "task_alias", "metadata", "should_decontaminate", "doc_to_decontamination_query",
    ];

    /// <summary>The task's name (<c>task</c>).</summary>
    public required string Task { get; init; }

    /// <summary>The YAML file.</summary>
    public required string SourcePath { get; init; }

    /// <summary><c>dataset_path</c>: json, csv or parquet (with <see cref="DataFiles"/>), a data file, or a folder of them.</summary>
    public string? DatasetPath { get; init; }

    /// <summary>Split name to files, from <c>data_files</c> or <c>dataset_kwargs.data_files</c> (a bare file or list is the train split, as in Hugging Face datasets).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> DataFiles { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary><c>test_split</c>: the split scored when set.</summary>
    public string? TestSplit { get; init; }

    /// <summary><c>validation_split</c>: the split scored when there is no test split.</summary>
    public string? ValidationSplit { get; init; }

    /// <summary><c>training_split</c>: the first choice for few-shot examples.</summary>
    public string? TrainingSplit { get; init; }

    /// <summary><c>fewshot_split</c>: where few-shot examples come from, over the training/validation rule.</summary>
    public string? FewshotSplit { get; init; }

    /// <summary><c>doc_to_text</c>: a field name or a template (string).</summary>
    public required object DocToText { get; init; }

    /// <summary><c>doc_to_choice</c>: a field name, a template rendering a list literal, or a list of templates; null for a generate_until task without choices.</summary>
    public object? DocToChoice { get; init; }

    /// <summary><c>doc_to_target</c>: a field name, a template, or an integer index.</summary>
    public required object DocToTarget { get; init; }

    /// <summary><c>target_delimiter</c> (default a single space).</summary>
    public string TargetDelimiter { get; init; } = " ";

    /// <summary><c>fewshot_delimiter</c> (default a blank line).</summary>
    public string FewshotDelimiter { get; init; } = "\n\n";

    /// <summary><c>description</c>, put before the few-shot examples.</summary>
    public string Description { get; init; } = "";

    /// <summary><c>num_fewshot</c> (default 0).</summary>
    public int NumFewshot { get; init; }

    /// <summary><c>fewshot_config.sampler</c>: default (seeded random draw) or first_n.</summary>
    public string FewshotSampler { get; init; } = "default";

    /// <summary>The metrics of <c>metric_list</c> (default acc and acc_norm for multiple_choice, exact_match for generate_until, as lm-eval).</summary>
    public IReadOnlyList<string> Metrics { get; init; } = [MetricNames.Acc, MetricNames.AccNorm];

    /// <summary>The metrics with their options.</summary>
    public IReadOnlyList<MetricSpec> MetricSpecs { get; init; } = [new(MetricNames.Acc), new(MetricNames.AccNorm)];

    /// <summary><c>output_type</c>: multiple_choice or generate_until (lm-eval's default).</summary>
    public string OutputType { get; init; } = "multiple_choice";

    /// <summary>generate_until's <c>generation_kwargs</c> (lm-eval's defaults when absent); null for multiple_choice.</summary>
    public GenerationConfig? Generation { get; init; }

    /// <summary><c>repeats</c>: generations per row (generate_until only).</summary>
    public int Repeats { get; init; } = 1;

    /// <summary><c>filter_list</c>, or lm-eval's "none" chain (take_first).</summary>
    public IReadOnlyList<FilterChain> Filters { get; init; } = [FilterChain.None];

    /// <summary>Reads and checks the YAML at <paramref name="path"/>.</summary>
    public static TaskConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new LlmMergeException($"{path}: task file not found.");
        var stream = new YamlStream();
        try
        {
            using var reader = new StringReader(File.ReadAllText(path));
            stream.Load(reader);
        }
        catch (YamlException e)
        {
            throw new LlmMergeException($"{path}:{e.Start.Line}: not valid YAML: {e.Message}");
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new LlmMergeException($"{path}: a task YAML must be a mapping of keys (task, dataset_path, doc_to_text, ...).");

        var keys = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (k, v) in root.Children)
        {
            string key = ((YamlScalarNode)k).Value ?? "";
            RefuseFunctions(v, path, key);
            if (Descriptive.Contains(key)) continue;

            if (!Supported.Contains(key))
            {
                string hint = key switch
                {
                    "include" => " Copy the included file's keys into this one.",
                    "process_docs" or "process_results" => " It runs Python; llmmerge cannot.",
                    "gen_prefix" => " A prefix for the answer is not supported.",
                    _ => "",
                };
                throw Error(path, k, $"key '{key}' is not supported by llmmerge's task YAML.{hint} Supported: {string.Join(", ", Supported)}.");
            }

            keys[key] = v;
        }

        string? Str(string key) => keys.TryGetValue(key, out var n) ? ScalarString(n, path, key) : null;

        string task = Str("task") ?? throw new LlmMergeException($"{path}: 'task' (the task's name) is missing.");
        // lm-eval's TaskConfig defaults output_type to generate_until.
        string outputType = Str("output_type") ?? "generate_until";
        if (outputType is not ("multiple_choice" or "generate_until"))
            throw Error(path, keys["output_type"], $"output_type '{outputType}' is not supported; llmmerge runs multiple_choice and generate_until tasks.");
        bool generate = outputType == "generate_until";
        if (!generate)
        {
            foreach (string key in new[] { "generation_kwargs", "filter_list" })
            {
                if (keys.TryGetValue(key, out var misplaced))
                    throw Error(path, misplaced, $"{key} applies to generate_until tasks; this task is multiple_choice.");
            }
        }

        int repeats = 1;
        if (keys.TryGetValue("repeats", out var rp))
        {
            repeats = Plain(rp, path, "repeats") is long r && r >= 1 && r <= 1000 ? (int)r : throw Error(path, rp, "repeats must be a whole number from 1 to 1000.");
            if (repeats > 1 && !generate) throw Error(path, rp, $"repeats: {repeats} applies to generate_until tasks; a multiple_choice row scores the same every time.");
        }

        string fewshotDelimiter = Str("fewshot_delimiter") ?? "\n\n";
        GenerationConfig? generation = !generate ? null
            : keys.TryGetValue("generation_kwargs", out var gk) ? TaskGenerationKeys.ReadGenerationKwargs(gk, path, fewshotDelimiter)
            : GenerationConfig.Default(fewshotDelimiter);
        List<FilterChain> filters = generate && keys.TryGetValue("filter_list", out var fl) ? TaskGenerationKeys.ReadFilterList(fl, path) : [FilterChain.None];
        bool hasChoices = keys.ContainsKey("doc_to_choice");
        List<MetricSpec> metrics = keys.TryGetValue("metric_list", out var ml) ? ReadMetrics(ml, path, generate, hasChoices)
            : generate ? [new MetricSpec(MetricNames.ExactMatch)] : [new MetricSpec(MetricNames.Acc), new MetricSpec(MetricNames.AccNorm)];
        if (keys.TryGetValue("dataset_name", out var dn) && Plain(dn, path, "dataset_name") is not null)
            throw Error(path, dn, "dataset_name selects a Hub dataset's configuration; local files take none. Remove it, or point dataset_path/data_files at the files.");

        var dataFiles = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (keys.TryGetValue("dataset_kwargs", out var kwargs))
        {
            if (kwargs is not YamlMappingNode kw)
                throw Error(path, kwargs, "dataset_kwargs must be a mapping.");
            foreach (var (k, v) in kw.Children)
            {
                string name = ((YamlScalarNode)k).Value ?? "";
                if (name != "data_files")
                    throw Error(path, k, $"dataset_kwargs.{name} is not supported; only data_files is.");
                ReadDataFiles(v, path, dataFiles);
            }
        }

        if (keys.TryGetValue("data_files", out var df)) ReadDataFiles(df, path, dataFiles);

        int numFewshot = 0;
        if (keys.TryGetValue("num_fewshot", out var nf))
        {
            numFewshot = Plain(nf, path, "num_fewshot") is long l && l >= 0 ? (int)l : throw Error(path, nf, "num_fewshot must be a whole number, 0 or more.");
        }

        string sampler = "default";
        if (keys.TryGetValue("fewshot_config", out var fc))
        {
            if (fc is not YamlMappingNode fcm) throw Error(path, fc, "fewshot_config must be a mapping.");
            foreach (var (k, v) in fcm.Children)
            {
                string name = ((YamlScalarNode)k).Value ?? "";
                if (name != "sampler")
                    throw Error(path, k, $"fewshot_config.{name} is not supported; only sampler (default or first_n) is.");
                sampler = ScalarString(v, path, "fewshot_config.sampler") ?? "default";
                if (sampler is not ("default" or "first_n"))
                    throw Error(path, v, $"fewshot_config.sampler '{sampler}' is not supported; use default or first_n.");
            }
        }

        return new TaskConfig
        {
            Task = task,
            SourcePath = path,
            DatasetPath = Str("dataset_path"),
            DataFiles = dataFiles,
            TestSplit = Str("test_split"),
            ValidationSplit = Str("validation_split"),
            TrainingSplit = Str("training_split"),
            FewshotSplit = Str("fewshot_split"),
            DocToText = Spec(keys, "doc_to_text", path, allowList: false),
            DocToChoice = generate && !hasChoices ? null : Spec(keys, "doc_to_choice", path, allowList: true),
            DocToTarget = Spec(keys, "doc_to_target", path, allowList: false),
            TargetDelimiter = Str("target_delimiter") ?? " ",
            FewshotDelimiter = fewshotDelimiter,
            Description = Str("description") ?? "",
            NumFewshot = numFewshot,
            FewshotSampler = sampler,
            Metrics = metrics.Select(m => m.Name).ToList(),
            MetricSpecs = metrics,
            OutputType = outputType,
            Generation = generation,
            Repeats = repeats,
            Filters = filters,
        };
    }

    private static object Spec(Dictionary<string, YamlNode> keys, string key, string path, bool allowList)
    {
        if (!keys.TryGetValue(key, out var node))
            throw new LlmMergeException($"{path}: '{key}' is missing; a multiple_choice task needs doc_to_text, doc_to_choice and doc_to_target, a generate_until task doc_to_text and doc_to_target.");
        if (node is YamlSequenceNode seq)
        {
            if (!allowList) throw Error(path, node, $"{key} as a list is not supported; give a field name, a template or an integer.");
            return seq.Children.Select(c => ScalarString(c, path, key) ?? "").ToList();
        }

        if (node is YamlMappingNode map && allowList)
        {
            // lm-eval takes a dict's values as the choices.
            return map.Children.Select(c => ScalarString(c.Value, path, key) ?? "").ToList();
        }

        object? value = Plain(node, path, key);
        return value switch
        {
            long l => l,
            string s => s,
            _ => throw Error(path, node, $"{key} must be a field name, a template{(allowList ? ", a list" : "")} or an integer."),
        };
    }

    private static List<MetricSpec> ReadMetrics(YamlNode node, string path, bool generate, bool hasChoices)
    {
        if (node is not YamlSequenceNode seq) throw Error(path, node, "metric_list must be a list of {metric: ...} entries.");
        string[] allowed = generate
            ? hasChoices ? [MetricNames.ExactMatch, MetricNames.Rouge, MetricNames.Acc] : [MetricNames.ExactMatch, MetricNames.Rouge]
            : [MetricNames.Acc, MetricNames.AccNorm, MetricNames.ExactMatch];
        var metrics = new List<MetricSpec>();
        foreach (YamlNode item in seq.Children)
        {
            if (item is not YamlMappingNode m) throw Error(path, item, "each metric_list entry must be a mapping with 'metric'.");
            string? metric = null;
            var options = new List<(string, object?, YamlNode)>();
            foreach (var (k, v) in m.Children)
            {
                string name = ((YamlScalarNode)k).Value ?? "";
                object? value = TaskGenerationKeys.Value(v, path, $"metric_list.{name}");
                switch (name)
                {
                    case "metric":
                        metric = value as string;
                        break;
                    case "aggregation" when value is "mean":
                    case "higher_is_better" when value is true:
                        break;
                    case "aggregation" or "higher_is_better" or "hf_evaluate":
                        throw Error(path, k, $"metric_list: '{name}: {PythonLiteral.ToStr(value)}' is not supported (metrics are aggregated by mean, higher is better).");
                    default:
                        options.Add((name, value, v));
                        break;
                }
            }

            if (metric is null || !allowed.Contains(metric))
            {
                string why = generate && metric == MetricNames.Acc ? " (acc of a generate_until task needs doc_to_choice, to map each answer to a choice)" : "";
                throw Error(path, item, $"metric '{metric}' is not supported for a {(generate ? "generate_until" : "multiple_choice")} task{why}; llmmerge computes {string.Join(", ", allowed)}.");
            }

            if (metric is MetricNames.Acc or MetricNames.AccNorm && options.Count > 0)
                throw Error(path, options[0].Item3, $"metric_list: {metric} takes no option '{options[0].Item1}'.");
            if (metrics.Any(x => x.Name == metric)) continue;
            metrics.Add(TaskGenerationKeys.ReadMetric(metric, options, path));
        }

        if (metrics.Count == 0) throw Error(path, node, "metric_list is empty.");
        return metrics;
    }

    private static void ReadDataFiles(YamlNode node, string path, Dictionary<string, IReadOnlyList<string>> into)
    {
        switch (node)
        {
            case YamlScalarNode s:
                into["train"] = [s.Value ?? ""];
                break;
            case YamlSequenceNode seq:
                into["train"] = seq.Children.Select(c => ScalarString(c, path, "data_files") ?? "").ToList();
                break;
            case YamlMappingNode map:
                foreach (var (k, v) in map.Children)
                {
                    string split = ((YamlScalarNode)k).Value ?? "";
                    into[split] = v switch
                    {
                        YamlSequenceNode list => list.Children.Select(c => ScalarString(c, path, "data_files") ?? "").ToList(),
                        _ => [ScalarString(v, path, "data_files") ?? ""],
                    };
                }

                break;
        }
    }

    private static void RefuseFunctions(YamlNode node, string path, string key)
    {
        if (!node.Tag.IsEmpty && node.Tag.Value == "!function")
            throw Error(path, node, $"{key} uses !function (Python code), which llmmerge cannot run; write it as a template or a field name.");
        switch (node)
        {
            case YamlMappingNode m:
                foreach (var (_, v) in m.Children) RefuseFunctions(v, path, key);
                break;
            case YamlSequenceNode s:
                foreach (var c in s.Children) RefuseFunctions(c, path, key);
                break;
        }
    }

    private static string? ScalarString(YamlNode node, string path, string key) => node switch
    {
        YamlScalarNode s when s.Style == ScalarStyle.Plain && s.Value is "null" or "~" or "" => null,
        YamlScalarNode s => s.Value,
        _ => throw Error(path, node, $"{key} must be a single value."),
    };

    // A plain scalar typed as YAML 1.1 (and so PyYAML, which lm-eval uses) would type it: integer, null or text.
    private static object? Plain(YamlNode node, string path, string key)
    {
        if (node is not YamlScalarNode s) throw Error(path, node, $"{key} must be a single value.");
        if (s.Style != ScalarStyle.Plain) return s.Value;
        if (s.Value is null or "null" or "~" or "") return null;
        if (long.TryParse(s.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
        return s.Value;
    }

    private static LlmMergeException Error(string path, YamlNode node, string message) =>
        new($"{path}:{node.Start.Line}: {message}");
}
