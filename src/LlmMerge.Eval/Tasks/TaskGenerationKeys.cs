using System.Globalization;
using LlmMerge.Core;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Eval.Tasks;

/// <summary>
/// The keys of a generate_until task YAML, read as lm-eval's TaskConfig and its filters read them (lm_eval/config/task.py,
/// lm_eval/models/utils.py normalize_gen_kwargs, lm_eval/filters at 4e7e0d47): <c>generation_kwargs</c>,
/// <c>filter_list</c> and the generation metrics of <c>metric_list</c>. What would change results and is not
/// supported is refused with the file and line.
/// </summary>
internal static class TaskGenerationKeys
{
    private static readonly string[] MaxTokenAliases = ["max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens"];

    // Keys transformers' generate reads that change nothing here (they steer the cache or the padding only).
    private static readonly string[] Inert = ["use_cache", "pad_token_id"];

    /// <summary>The filters lm-eval has that llmmerge does not run.</summary>
    private static readonly string[] KnownUnsupportedFilters = ["multi_choice_regex", "regex_pos", "take_first_k", "map", "format_span", "custom", "decontaminate"];

    public static GenerationConfig ReadGenerationKwargs(YamlNode node, string path, string fewshotDelimiter)
    {
        if (node is not YamlMappingNode map) throw Error(path, node, "generation_kwargs must be a mapping (until, max_gen_toks, do_sample, temperature, ...).");
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        var nodes = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (k, v) in map.Children)
        {
            string key = ((YamlScalarNode)k).Value ?? "";
            nodes[key] = v;
            arguments[key] = Value(v, path, $"generation_kwargs.{key}");
            if (key is "until" or "do_sample" or "temperature" or "top_p" or "top_k" || MaxTokenAliases.Contains(key) || Inert.Contains(key)) continue;
            string hint = key switch
            {
                "max_length" => " Use max_gen_toks (new tokens) instead.",
                "num_beams" or "num_beam_groups" or "penalty_alpha" => " Only greedy decoding and sampling are supported.",
                _ => "",
            };
            throw Error(path, k, $"generation_kwargs.{key} is not supported by llmmerge and would change the generations.{hint} Supported: until, max_gen_toks (or max_new_tokens, max_tokens, max_completion_tokens), do_sample, temperature, top_p, top_k.");
        }

        // lm-eval's TaskConfig: no until means the few-shot delimiter.
        var until = new List<string>();
        if (!arguments.TryGetValue("until", out object? u))
        {
            until.Add(fewshotDelimiter);
            arguments["until"] = new List<object?> { fewshotDelimiter };
        }
        else
        {
            switch (u)
            {
                case string s: until.Add(s); break;
                case List<object?> list when list.All(x => x is string):
                    until.AddRange(list.Cast<string>());
                    break;
                case null: break;
                default: throw Error(path, nodes["until"], "generation_kwargs.until must be a string or a list of strings.");
            }
        }

        int maxGen = GenerationConfig.DefaultMaxGenToks;
        string? maxKey = MaxTokenAliases.FirstOrDefault(arguments.ContainsKey);
        if (maxKey is not null)
        {
            maxGen = arguments[maxKey] is long n && n >= 1 && n <= int.MaxValue
                ? (int)n
                : throw Error(path, nodes[maxKey], $"generation_kwargs.{maxKey} must be a whole number, 1 or more.");
        }

        double temperature = 0;
        if (arguments.TryGetValue("temperature", out object? t) && t is not null)
        {
            temperature = t is long or double ? Convert.ToDouble(t, CultureInfo.InvariantCulture) : throw Error(path, nodes["temperature"], "generation_kwargs.temperature must be a number.");
            if (temperature < 0) throw Error(path, nodes["temperature"], "generation_kwargs.temperature must not be negative.");
        }

        bool doSample = temperature > 0;
        if (arguments.TryGetValue("do_sample", out object? d) && d is not null)
            doSample = d is bool b ? b : throw Error(path, nodes["do_sample"], "generation_kwargs.do_sample must be true or false.");
        if (doSample && temperature == 0)
            throw Error(path, nodes.GetValueOrDefault("do_sample") ?? node, "do_sample is true but temperature is 0; sampling needs a temperature above 0 (transformers refuses 0).");
        if (!doSample) temperature = 0;

        int? topK = null;
        if (arguments.TryGetValue("top_k", out object? kv) && kv is not null)
            topK = kv is long kk && kk >= 0 && kk <= int.MaxValue ? (int)kk : throw Error(path, nodes["top_k"], "generation_kwargs.top_k must be a whole number, 0 (off) or more.");
        double? topP = null;
        if (arguments.TryGetValue("top_p", out object? p) && p is not null)
        {
            double pp = p is long or double ? Convert.ToDouble(p, CultureInfo.InvariantCulture) : double.NaN;
            topP = pp > 0 && pp <= 1 ? pp : throw Error(path, nodes["top_p"], "generation_kwargs.top_p must be a number in (0, 1].");
        }

        return new GenerationConfig
        {
            Until = until,
            MaxGenToks = maxGen,
            DoSample = doSample,
            Temperature = temperature,
            TopK = topK,
            TopP = topP,
            Arguments = arguments,
        };
    }

    public static List<FilterChain> ReadFilterList(YamlNode node, string path)
    {
        if (node is not YamlSequenceNode seq || seq.Children.Count == 0)
            throw Error(path, node, "filter_list must be a list of {name, filter: [{function: ...}, ...]} entries.");
        var chains = new List<FilterChain>();
        foreach (YamlNode entry in seq.Children)
        {
            if (entry is not YamlMappingNode m) throw Error(path, entry, "each filter_list entry must be a mapping with name and filter.");
            string? name = null;
            YamlSequenceNode? steps = null;
            foreach (var (k, v) in m.Children)
            {
                string key = ((YamlScalarNode)k).Value ?? "";
                switch (key)
                {
                    case "name": name = Value(v, path, "filter_list.name") as string; break;
                    case "filter": steps = v as YamlSequenceNode ?? throw Error(path, v, "filter_list.filter must be a list of {function: ...} steps."); break;
                    default: throw Error(path, k, $"filter_list entry key '{key}' is not supported; an entry has name and filter.");
                }
            }

            if (name is null) throw Error(path, entry, "a filter_list entry has no name.");
            if (chains.Any(c => c.Name == name)) throw Error(path, entry, $"two filter_list entries are named '{name}'.");
            if (steps is null || steps.Children.Count == 0) throw Error(path, entry, $"filter_list entry '{name}' has no filter steps.");
            var list = steps.Children.Select(s => ReadStep(s, path, name)).ToList();

            // lm-eval scores whatever the chain leaves; take_first is what turns a row's list of generations into the one
            // answer a metric compares. A step after it would walk the answer character by character.
            if (list[^1].Function != "take_first")
                throw Error(path, steps, $"filter_list entry '{name}' must end with take_first (after majority_vote, if any), so each row has one answer to score.");
            if (list.Take(list.Count - 1).Any(s => s.Function == "take_first"))
                throw Error(path, steps, $"filter_list entry '{name}' has take_first before its last step; lm-eval would then filter the answer's characters one by one.");
            chains.Add(new FilterChain(name, list));
        }

        return chains;
    }

    private static FilterStep ReadStep(YamlNode node, string path, string chain)
    {
        if (node is not YamlMappingNode m) throw Error(path, node, $"filter '{chain}': each step must be a mapping with function.");
        var args = new Dictionary<string, (object? Value, YamlNode Node)>(StringComparer.Ordinal);
        foreach (var (k, v) in m.Children) args[((YamlScalarNode)k).Value ?? ""] = (Value(v, path, $"filter '{chain}'"), v);
        if (!args.TryGetValue("function", out var f) || f.Value is not string function)
            throw Error(path, node, $"filter '{chain}': a step has no function.");
        string[] allowed = function switch
        {
            "regex" => ["function", "regex_pattern", "group_select", "fallback"],
            "take_first" or "majority_vote" or "lowercase" or "uppercase" or "remove_whitespace" => ["function"],
            _ when KnownUnsupportedFilters.Contains(function) => throw Error(path, f.Node, $"filter function '{function}' is not supported by llmmerge (supported: regex, take_first, majority_vote, lowercase, uppercase, remove_whitespace)."),
            _ => throw Error(path, f.Node, $"unknown filter function '{function}' (supported: regex, take_first, majority_vote, lowercase, uppercase, remove_whitespace)."),
        };
        foreach (var (key, (_, n)) in args)
        {
            if (!allowed.Contains(key))
                throw Error(path, n, $"filter '{chain}': {function} takes no argument '{key}'{(allowed.Length > 1 ? $" (it takes {string.Join(", ", allowed.Skip(1))})" : "")}.");
        }

        if (function != "regex") return new FilterStep(function);
        // lm-eval's RegexFilter defaults.
        string pattern = args.TryGetValue("regex_pattern", out var p) ? p.Value as string ?? throw Error(path, p.Node, "regex_pattern must be a string.") : @"#### (\-?[0-9\.\,]+)";
        int group = 0;
        if (args.TryGetValue("group_select", out var g))
            group = g.Value is long l && l is >= int.MinValue and <= int.MaxValue ? (int)l : throw Error(path, g.Node, "group_select must be a whole number.");
        string fallback = args.TryGetValue("fallback", out var fb) ? PythonLiteral.ToStr(fb.Value) : "[invalid]";
        var at = args.TryGetValue("regex_pattern", out var pn) ? pn.Node : node;
        return new FilterStep("regex", PythonRegex.Compile(pattern, $"{path}:{at.Start.Line}: filter '{chain}'"), group, fallback);
    }

    /// <summary>A metric_list entry of a generation metric, with its options.</summary>
    public static MetricSpec ReadMetric(string metric, List<(string Key, object? Value, YamlNode Node)> options, string path)
    {
        bool Flag(string key, (string Key, object? Value, YamlNode Node) o) =>
            o.Value is bool b ? b : throw Error(path, o.Node, $"metric_list: {metric}.{key} must be true or false.");
        var spec = new MetricSpec(metric);
        foreach (var o in options)
        {
            spec = (metric, o.Key) switch
            {
                ("exact_match", "ignore_case") => spec with { IgnoreCase = Flag(o.Key, o) },
                ("exact_match", "ignore_punctuation") => spec with { IgnorePunctuation = Flag(o.Key, o) },
                ("exact_match", "ignore_numbers") => spec with { IgnoreNumbers = Flag(o.Key, o) },
                ("exact_match", "regexes_to_ignore") => spec with
                {
                    RegexesToIgnore = (o.Value is List<object?> list && list.All(x => x is string) ? list.Cast<string>() : o.Value is string one ? [one] : throw Error(path, o.Node, "regexes_to_ignore must be a list of patterns."))
                        .Select(r => PythonRegex.Compile(r, $"{path}:{o.Node.Start.Line}: regexes_to_ignore")).ToList(),
                },
                ("rouge", "use_stemmer") => spec with { UseStemmer = Flag(o.Key, o) },
                ("rouge", "rouge_types") => spec with
                {
                    RougeTypes = o.Value is List<object?> types && types.Count > 0 && types.All(x => x is "rouge1" or "rouge2" or "rougeL" or "rougeLsum")
                        ? types.Cast<string>().ToList()
                        : throw Error(path, o.Node, "rouge_types must be a list of rouge1, rouge2, rougeL, rougeLsum."),
                },
                _ => throw Error(path, o.Node, $"metric_list: '{o.Key}' is not an option of {metric} that llmmerge supports."),
            };
        }

        return spec;
    }

    /// <summary>A YAML value typed as PyYAML (YAML 1.1) types plain scalars: null, bool, int, float, else text; lists and mappings nest.</summary>
    public static object? Value(YamlNode node, string path, string key) => node switch
    {
        YamlScalarNode s when s.Style != ScalarStyle.Plain => s.Value,
        YamlScalarNode s => Plain(s.Value),
        YamlSequenceNode seq => seq.Children.Select(c => Value(c, path, key)).ToList(),
        YamlMappingNode map => map.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value ?? "", kv => Value(kv.Value, path, key), StringComparer.Ordinal),
        _ => throw Error(path, node, $"{key} has an unsupported form."),
    };

    private static object? Plain(string? v)
    {
        if (v is null or "" or "~" or "null" or "Null" or "NULL") return null;
        if (v is "true" or "True" or "TRUE" or "yes" or "Yes" or "YES" or "on" or "On" or "ON") return true;
        if (v is "false" or "False" or "FALSE" or "no" or "No" or "NO" or "off" or "Off" or "OFF") return false;
        if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && (v.Contains('.') || v.Contains('e') || v.Contains('E'))) return d;
        return v;
    }

    public static LlmMergeException Error(string path, YamlNode node, string message) =>
        new($"{path}:{node.Start.Line}: {message}");
}
