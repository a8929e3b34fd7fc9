using System.Globalization;
using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Search.Genome;

/// <summary>
/// Reads a mergekit-evolve YAML. Unknown keys are errors naming the file and line (pydantic would drop them
/// silently, which hides a typo such as <c>layer_granulariy</c>); checks are mergekit's validators plus ours.
/// </summary>
public static class EvolveConfigParser
{
    private static readonly string[] TopKeys = ["genome", "tasks", "limit", "num_fewshot", "shuffle", "random_init", "apply_chat_template", "fewshot_as_multiturn", "search"];

    private static readonly string[] GenomeKeys = ["models", "merge_method", "base_model", "tokenizer_source", "layer_granularity", "normalize", "allow_negative_weights", "filters", "smooth"];

    public static EvolveConfig ParseFile(string path)
    {
        if (!File.Exists(path))
            throw new LlmMergeException($"{path}: genome file not found");
        return Parse(File.ReadAllText(path), path);
    }

    public static EvolveConfig Parse(string text, string file)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new LlmMergeException($"{file}:{e.Start.Line}: not valid YAML: {e.Message}", e); }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new LlmMergeException($"{file}: a genome config must be a YAML mapping with 'genome' and 'tasks'");
        var y = new Yaml(file);
        y.CheckKeys(root, TopKeys, "the config");
        var genomeNode = y.Mapping(root, "genome", "the config") ?? throw y.Error(root, "the config needs 'genome' (models, merge_method, ...)");
        y.CheckKeys(genomeNode, GenomeKeys, "genome");
        var genome = ReadGenome(y, genomeNode);
        var tasks = ReadTasks(y, root);
        if (y.Bool(root, "shuffle") == true)
            throw y.Error(root, "shuffle: true is not supported (it reorders lm-eval's few-shot draws); remove it");
        return new EvolveConfig
        {
            Genome = genome,
            Tasks = tasks,
            Limit = y.Int(root, "limit", min: 1),
            NumFewshot = y.Int(root, "num_fewshot", min: 0),
            RandomInit = y.Bool(root, "random_init") ?? false,
            ApplyChatTemplate = y.Bool(root, "apply_chat_template") ?? true,
            Search = ReadSearch(y, root),
            SourcePath = Path.GetFullPath(file),
        };
    }

    private static GenomeDefinition ReadGenome(Yaml y, YamlMappingNode g)
    {
        if (!g.Children.TryGetValue(new YamlScalarNode("models"), out var modelsNode) || modelsNode is not YamlSequenceNode models || models.Children.Count == 0)
            throw y.Error(g, "genome needs 'models', a non-empty list of models");
        var refs = models.Children.Select(m => m is YamlScalarNode { Value: { Length: > 0 } v } ? ModelReference.Parse(v) : throw y.Error(m, "each entry of genome.models must be a model path")).ToList();
        string method = y.String(g, "merge_method") ?? throw y.Error(g, "genome needs 'merge_method'");
        if (GenomeMethods.Parameters(method).Count == 0)
            throw y.Error(g, $"genome.merge_method '{method}' has no parameters a genome can tune (weight, density, or slerp's t); use one of {string.Join(", ", GenomeMethods.Tunable)}");
        var baseModel = y.String(g, "base_model") is { } b ? ModelReference.Parse(b) : null;
        if (GenomeMethods.NeedsBase(method) && baseModel is null)
            throw y.Error(g, $"genome.merge_method {method} needs base_model (the model task vectors are taken against)");
        var filters = new List<string>();
        if (g.Children.TryGetValue(new YamlScalarNode("filters"), out var fNode) && fNode is not YamlScalarNode { Value: null or "" or "null" or "~" })
        {
            if (fNode is not YamlSequenceNode fs || fs.Children.Any(c => c is not YamlScalarNode { Value.Length: > 0 }))
                throw y.Error(fNode, "genome.filters must be a list of tensor-name substrings (e.g. self_attn, mlp)");
            filters.AddRange(fs.Children.Select(c => ((YamlScalarNode)c).Value!));
        }
        bool smooth = y.Bool(g, "smooth") ?? false;
        if (method == "slerp")
        {
            if (smooth) throw y.Error(g, "smooth is not supported for the slerp merge method (as in mergekit)");
            if (filters.Count > 0) throw y.Error(g, "tensor name filtering is not supported for the slerp merge method (as in mergekit)");
            if (refs.Count < 2) throw y.Error(g, "slerp needs at least two models to choose a pair from");
            if (baseModel is not null && !refs.Contains(baseModel))
                throw y.Error(g, "slerp: base_model must be one of the models (mergekit would add it as a third source of every slice, which slerp cannot merge)");
        }
        int granularity = y.Int(g, "layer_granularity", min: 0) ?? 0;
        return new GenomeDefinition
        {
            Models = refs,
            MergeMethod = method,
            BaseModel = baseModel,
            TokenizerSource = y.String(g, "tokenizer_source"),
            LayerGranularity = granularity,
            Normalize = y.Bool(g, "normalize"),
            AllowNegativeWeights = y.Bool(g, "allow_negative_weights") ?? false,
            Filters = filters,
            Smooth = smooth,
        };
    }

    private static List<TaskSpec> ReadTasks(Yaml y, YamlMappingNode root)
    {
        if (!root.Children.TryGetValue(new YamlScalarNode("tasks"), out var tNode) || tNode is not YamlSequenceNode seq || seq.Children.Count == 0)
            throw y.Error(root, "the config needs 'tasks', a non-empty list of task names or {name, weight, metric}");
        var tasks = new List<TaskSpec>();
        foreach (var item in seq)
        {
            if (item is YamlScalarNode { Value: { Length: > 0 } name })
            {
                tasks.Add(new TaskSpec(name, 1.0, "acc"));
                continue;
            }
            if (item is not YamlMappingNode m)
                throw y.Error(item, "each task must be a name or a mapping with 'name'");
            y.CheckKeys(m, ["name", "weight", "metric"], "a task");
            string taskName = y.String(m, "name") ?? throw y.Error(m, "a task needs 'name'");
            double weight = y.Double(m, "weight") ?? 1.0;
            tasks.Add(new TaskSpec(taskName, weight, Metric(y, m, y.String(m, "metric") ?? "acc,none")));
        }
        foreach (var dup in tasks.GroupBy(t => t.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
            throw y.Error(tNode, $"task '{dup.Key}' is listed twice; give each task once (its weight says how much it counts)");
        return tasks;
    }

    /// <summary>lm-eval names a metric with its filter ("acc,none"); ours are acc and acc_norm without a filter.</summary>
    private static string Metric(Yaml y, YamlNode at, string metric)
    {
        string name = metric.EndsWith(",none", StringComparison.Ordinal) ? metric[..^5] : metric;
        if (name is not ("acc" or "acc_norm"))
            throw y.Error(at, $"task metric '{metric}' is not one we compute; use acc or acc_norm (optionally with ',none')");
        return name;
    }

    private static SearchSettings ReadSearch(Yaml y, YamlMappingNode root)
    {
        var s = y.Mapping(root, "search", "the config");
        if (s is null) return new SearchSettings();
        y.CheckKeys(s, ["max_fevals", "random_seed", "sigma0", "popsize"], "search");
        double? sigma = y.Double(s, "sigma0");
        if (sigma is <= 0) throw y.Error(s, "search.sigma0 must be positive");
        long? seed = y.Long(s, "random_seed");
        return new SearchSettings
        {
            MaxFevals = y.Int(s, "max_fevals", min: 1),
            RandomSeed = seed is long l ? unchecked((ulong)l) : null,
            Sigma0 = sigma,
            Popsize = y.Int(s, "popsize", min: 2),
        };
    }

    private sealed class Yaml(string file)
    {
        public LlmMergeException Error(YamlNode node, string what) => new($"{file}:{node.Start.Line}: {what}");

        public void CheckKeys(YamlMappingNode m, string[] allowed, string where)
        {
            foreach (var k in m.Children.Keys)
            {
                string key = ((YamlScalarNode)k).Value ?? "";
                if (!allowed.Contains(key))
                    throw Error(k, $"unknown key '{key}' in {where}; known keys: {string.Join(", ", allowed)}");
            }
        }

        public YamlMappingNode? Mapping(YamlMappingNode m, string key, string where)
        {
            if (!m.Children.TryGetValue(new YamlScalarNode(key), out var v) || v is YamlScalarNode { Value: null or "" or "null" or "~" })
                return null;
            return v as YamlMappingNode ?? throw Error(v, $"'{key}' in {where} must be a mapping");
        }

        public string? String(YamlMappingNode m, string key)
        {
            if (!m.Children.TryGetValue(new YamlScalarNode(key), out var v))
                return null;
            if (v is not YamlScalarNode s)
                throw Error(v, $"'{key}' must be a single value");
            return string.IsNullOrEmpty(s.Value) || s.Value is "null" or "~" ? null : s.Value;
        }

        public bool? Bool(YamlMappingNode m, string key)
        {
            string? v = String(m, key);
            if (v is null) return null;
            return v is "true" or "True" ? true : v is "false" or "False" ? false : throw Error(m, $"'{key}' must be true or false, not '{v}'");
        }

        public double? Double(YamlMappingNode m, string key)
        {
            string? v = String(m, key);
            if (v is null) return null;
            return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) ? d : throw Error(m, $"'{key}' must be a number, not '{v}'");
        }

        public long? Long(YamlMappingNode m, string key)
        {
            string? v = String(m, key);
            if (v is null) return null;
            return long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : throw Error(m, $"'{key}' must be a whole number, not '{v}'");
        }

        public int? Int(YamlMappingNode m, string key, int min)
        {
            long? n = Long(m, key);
            if (n is null) return null;
            return n >= min && n <= int.MaxValue ? (int)n : throw Error(m, $"'{key}' must be a whole number of at least {min}, not {n}");
        }
    }
}
