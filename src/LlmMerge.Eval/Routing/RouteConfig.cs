using System.Globalization;
using LlmMerge.Core;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Eval.Routing;

/// <summary>A task file whose rows' contexts serve as an expert's positive prompts (the first <see cref="Limit"/> rows, or all).</summary>
public sealed record PromptTaskSource(string File, int? Limit);

/// <summary>One expert of a router config: mergekit-moe's <c>source_model</c> and prompts, plus <c>name</c> and <c>prompt_tasks</c>.</summary>
public sealed record RouteExpert(
    string Name,
    string SourceModel,
    IReadOnlyList<string> PositivePrompts,
    IReadOnlyList<string> NegativePrompts,
    IReadOnlyList<PromptTaskSource> PromptTasks);

/// <summary>
/// <c>llmmerge route</c>'s config: mergekit-moe's YAML (mergekit/moe/config.py at a6e40288: <c>base_model</c>,
/// <c>gate_mode</c>, <c>dtype</c>, <c>experts_per_token</c>, <c>experts</c> with <c>source_model</c>,
/// <c>positive_prompts</c>, <c>negative_prompts</c>) plus the router's own keys: <c>routing</c> (query, the default, or
/// task), <c>layer</c>, <c>validation</c> (task name to validation file), <c>router_temperature</c> (Arrow) and per
/// expert <c>name</c> and <c>prompt_tasks</c>. Unknown keys, and mergekit-moe keys that mean nothing for a router
/// (<c>shared_experts</c>, <c>architecture</c>, <c>noise_scale</c>, <c>residual_scale</c>), are errors naming the
/// key and the line. Paths are kept as written; the builder resolves them.
/// </summary>
public sealed record RouteConfig
{
    /// <summary>gate_mode values a router accepts.</summary>
    public static readonly string[] GateModes = ["hidden", "hidden_avg", "hidden_last", "cheap_embed", "arrow"];

    private static readonly string[] TopKeys =
        ["base_model", "gate_mode", "dtype", "experts_per_token", "experts", "routing", "layer", "validation", "router_temperature"];

    private static readonly string[] ExpertKeys = ["source_model", "name", "positive_prompts", "negative_prompts", "prompt_tasks"];

    public required string Path { get; init; }

    public required string BaseModel { get; init; }

    /// <summary>mergekit's gate_mode (default <c>hidden</c>); <c>arrow</c> for Arrow routing.</summary>
    public required string GateMode { get; init; }

    public required RoutingKind Kind { get; init; }

    /// <summary>The hidden state compared: the one entering this layer; null means the last layer's.</summary>
    public int? Layer { get; init; }

    /// <summary>The dtype the base runs in while prototypes are computed (mergekit's <c>dtype</c>); default float32.</summary>
    public string DType { get; init; } = "float32";

    public required IReadOnlyList<RouteExpert> Experts { get; init; }

    /// <summary>Task routing: each task name (as RESULTS.json names it) and the validation file that picks its expert.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Validation { get; init; } = [];

    /// <summary>Arrow: adapters kept per token (PEFT's top_k, default 3; capped at the number of experts).</summary>
    public int TopK { get; init; } = 3;

    /// <summary>Arrow: softmax temperature (PEFT's router_temperature, default 1.0).</summary>
    public double Temperature { get; init; } = 1.0;

    public static RouteConfig ParseFile(string path)
    {
        if (!File.Exists(path))
            throw new LlmMergeException($"{path}: router config not found");
        return Parse(File.ReadAllText(path), path);
    }

    public static RouteConfig Parse(string text, string file = "<router>")
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new LlmMergeException($"{file}:{e.Start.Line}: not valid YAML: {e.Message}", e); }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new LlmMergeException($"{file}: a router config must be a YAML mapping with base_model and experts (mergekit-moe's format)");

        foreach (var k in root.Children.Keys)
        {
            string key = Scalar(k) ?? "";
            if (key is "shared_experts" or "architecture")
                throw Error(file, k, $"'{key}' configures a mixture-of-experts model (llmmerge moe); a router has no shared experts or output architecture");
            if (!TopKeys.Contains(key))
                throw Error(file, k, $"unknown key '{key}'; a router config takes {string.Join(", ", TopKeys)}");
        }

        string baseModel = String(file, root, "base_model") ?? throw Error(file, root, "the config needs 'base_model' (the model whose hidden states route, and whose tokenizer the system uses)");
        string gateMode = String(file, root, "gate_mode") ?? "hidden";
        if (gateMode is "random" or "uniform_random")
            throw Error(file, root, $"gate_mode '{gateMode}' routes by chance; a router takes {string.Join(", ", GateModes)}");
        if (!GateModes.Contains(gateMode))
            throw Error(file, root, $"unknown gate_mode '{gateMode}'; a router takes {string.Join(", ", GateModes)}");
        string routing = String(file, root, "routing") ?? (gateMode == "arrow" ? "arrow" : "query");
        RoutingKind kind = routing switch
        {
            "query" when gateMode != "arrow" => RoutingKind.Query,
            "task" => RoutingKind.Task,
            "arrow" or "query" when gateMode == "arrow" => RoutingKind.Arrow,
            _ => throw Error(file, root, $"unknown routing '{routing}'; give query (per row, the default) or task (per task, by validation score)"),
        };
        if (kind == RoutingKind.Task && gateMode == "arrow" && root.Children.ContainsKey(new YamlScalarNode("gate_mode")))
            throw Error(file, root, "gate_mode arrow routes each token inside the forward pass; it cannot be combined with routing: task");

        int? layer = Int(file, root, "layer");
        if (layer < 0)
            throw Error(file, root, $"layer must be 0 or more (the hidden state entering that layer), not {layer}");
        int? perToken = Int(file, root, "experts_per_token");
        if (perToken is not null && kind != RoutingKind.Arrow)
            throw Error(file, root, "experts_per_token applies to gate_mode arrow; query and task routing score each row with one expert");
        if (perToken < 1)
            throw Error(file, root, $"experts_per_token must be at least 1, not {perToken}");
        double? temperature = Double(file, root, "router_temperature");
        if (temperature is not null && kind != RoutingKind.Arrow)
            throw Error(file, root, "router_temperature applies to gate_mode arrow only");
        if (temperature is <= 0)
            throw Error(file, root, $"router_temperature must be above 0, not {temperature}");

        var experts = new List<RouteExpert>();
        if (!root.Children.TryGetValue(new YamlScalarNode("experts"), out var expertsNode) || expertsNode is not YamlSequenceNode list || list.Children.Count == 0)
            throw Error(file, root, "the config needs 'experts': a list of entries with source_model");
        for (int i = 0; i < list.Children.Count; i++)
            experts.Add(ParseExpert(file, list.Children[i], i));
        foreach (var dup in experts.GroupBy(e => e.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
            throw Error(file, list, $"two experts are named '{dup.Key}'; give each a distinct 'name'");

        var validation = new List<KeyValuePair<string, string>>();
        if (root.Children.TryGetValue(new YamlScalarNode("validation"), out var vNode))
        {
            if (kind != RoutingKind.Task)
                throw Error(file, vNode, "'validation' picks an expert per task; it applies to routing: task");
            if (vNode is not YamlMappingNode vMap)
                throw Error(file, vNode, "'validation' must map each task name (as RESULTS.json names it) to its validation task file");
            foreach (var (k, v) in vMap.Children)
            {
                string task = Scalar(k) ?? "";
                string? path = Scalar(v);
                if (task.Length == 0 || string.IsNullOrEmpty(path))
                    throw Error(file, k, $"validation entry '{task}' must name a task and a validation file (TASK: FILE)");
                validation.Add(new(task, path));
            }
        }
        if (kind == RoutingKind.Task && validation.Count == 0)
            throw Error(file, root, "routing: task needs 'validation': each task name mapped to the validation file that picks its expert");
        if (kind == RoutingKind.Query)
        {
            foreach (var e in experts.Where(e => e.PositivePrompts.Count == 0 && e.PromptTasks.Count == 0))
                throw new LlmMergeException($"{file}: expert '{e.Name}' has no positive prompts; give positive_prompts or prompt_tasks (query routing compares each query with every expert's prompts)");
            if (experts.Count > 1 && experts.Skip(1).All(e => SamePrompts(e, experts[0])))
                throw new LlmMergeException($"{file}: every expert has the same prompts, so the router could not tell them apart; give each expert prompts of what it should answer");
        }

        return new RouteConfig
        {
            Path = file,
            BaseModel = baseModel,
            GateMode = gateMode,
            Kind = kind,
            Layer = layer,
            DType = String(file, root, "dtype") ?? "float32",
            Experts = experts,
            Validation = validation,
            TopK = perToken ?? 3,
            Temperature = temperature ?? 1.0,
        };
    }

    private static bool SamePrompts(RouteExpert a, RouteExpert b) =>
        a.PositivePrompts.SequenceEqual(b.PositivePrompts) && a.NegativePrompts.SequenceEqual(b.NegativePrompts) && a.PromptTasks.SequenceEqual(b.PromptTasks);

    private static RouteExpert ParseExpert(string file, YamlNode node, int index)
    {
        if (node is not YamlMappingNode m)
            throw Error(file, node, $"expert {index} must be a mapping with source_model");
        foreach (var k in m.Children.Keys)
        {
            string key = Scalar(k) ?? "";
            if (key is "noise_scale" or "residual_scale")
                throw Error(file, k, $"expert {index}: '{key}' shapes a mixture-of-experts layer (llmmerge moe); a router does not mix experts' outputs");
            if (!ExpertKeys.Contains(key))
                throw Error(file, k, $"expert {index}: unknown key '{key}'; an expert takes {string.Join(", ", ExpertKeys)}");
        }
        string source = String(file, m, "source_model") ?? throw Error(file, m, $"expert {index} needs 'source_model'");
        string name = String(file, m, "name") ?? DefaultName(source);
        var promptTasks = new List<PromptTaskSource>();
        if (m.Children.TryGetValue(new YamlScalarNode("prompt_tasks"), out var pt))
        {
            if (pt is not YamlSequenceNode seq)
                throw Error(file, pt, $"expert '{name}': prompt_tasks must be a list of task files (or of {{file, limit}})");
            foreach (var entry in seq.Children)
            {
                if (Scalar(entry) is { Length: > 0 } f)
                {
                    promptTasks.Add(new PromptTaskSource(f, null));
                    continue;
                }
                if (entry is not YamlMappingNode em)
                    throw Error(file, entry, $"expert '{name}': a prompt_tasks entry is a task file or {{file: PATH, limit: N}}");
                foreach (var k in em.Children.Keys)
                {
                    if (Scalar(k) is not ("file" or "limit"))
                        throw Error(file, k, $"expert '{name}': unknown key '{Scalar(k)}' in prompt_tasks; an entry takes file and limit");
                }
                string taskFile = String(file, em, "file") ?? throw Error(file, em, $"expert '{name}': a prompt_tasks entry needs 'file'");
                int? limit = Int(file, em, "limit");
                if (limit < 1)
                    throw Error(file, em, $"expert '{name}': prompt_tasks limit must be at least 1, not {limit}");
                promptTasks.Add(new PromptTaskSource(taskFile, limit));
            }
        }
        return new RouteExpert(name, source, Strings(file, m, "positive_prompts", name), Strings(file, m, "negative_prompts", name), promptTasks);
    }

    /// <summary>An expert's name when the config gives none: its folder's name (the adapter's, for BASE+ADAPTER).</summary>
    public static string DefaultName(string sourceModel)
    {
        string last = sourceModel.Split('+')[^1].TrimEnd('/', '\\');
        string name = System.IO.Path.GetFileName(last);
        return name.Length > 0 ? name : last;
    }

    private static IReadOnlyList<string> Strings(string file, YamlMappingNode m, string key, string expert)
    {
        if (!m.Children.TryGetValue(new YamlScalarNode(key), out var v) || v is YamlScalarNode { Value: null or "" or "null" or "~" })
            return [];
        if (v is not YamlSequenceNode seq)
            throw Error(file, v, $"expert '{expert}': {key} must be a list of strings");
        return seq.Children.Select(c => c is YamlScalarNode s ? s.Value ?? "" : throw Error(file, c, $"expert '{expert}': each of {key} must be a string")).ToList();
    }

    private static string? Scalar(YamlNode node) => node is YamlScalarNode s ? s.Value : null;

    private static string? String(string file, YamlMappingNode m, string key)
    {
        if (!m.Children.TryGetValue(new YamlScalarNode(key), out var v))
            return null;
        if (v is not YamlScalarNode s)
            throw Error(file, v, $"'{key}' must be a single value");
        return string.IsNullOrEmpty(s.Value) || s.Value == "null" || s.Value == "~" ? null : s.Value;
    }

    private static int? Int(string file, YamlMappingNode m, string key) =>
        String(file, m, key) is not { } s ? null
        : int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n
        : throw Error(file, m.Children[new YamlScalarNode(key)], $"'{key}' must be a whole number, not '{s}'");

    private static double? Double(string file, YamlMappingNode m, string key) =>
        String(file, m, key) is not { } s ? null
        : double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) ? d
        : throw Error(file, m.Children[new YamlScalarNode(key)], $"'{key}' must be a number, not '{s}'");

    private static LlmMergeException Error(string file, YamlNode node, string what) => new($"{file}:{node.Start.Line}: {what}");
}
