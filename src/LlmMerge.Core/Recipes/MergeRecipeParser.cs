using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Core.Recipes;

/// <summary>
/// Reads mergekit's YAML. Unknown keys are errors that name the key, the file and the line, so a typo
/// (<c>desnity</c>) never silently falls back to a default.
/// </summary>
public static class MergeRecipeParser
{
    private static readonly string[] TopKeys =
        ["merge_method", "slices", "models", "parameters", "base_model", "dtype", "out_dtype", "tokenizer_source", "tokenizer", "chat_template", "name", "calibration"];

    public static MergeRecipe ParseFile(string path)
    {
        if (!File.Exists(path))
            throw new LlmMergeException($"{path}: recipe file not found");
        return Parse(File.ReadAllText(path), path);
    }

    public static MergeRecipe Parse(string text, string fileName = "<recipe>")
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new LlmMergeException($"{fileName}:{e.Start.Line}: not valid YAML: {e.Message}", e); }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new LlmMergeException($"{fileName}: a merge recipe must be a YAML mapping with merge_method and models or slices");

        var ctx = new Ctx(fileName);
        ctx.CheckKeys(root, TopKeys, "the recipe");
        string method = ctx.RequiredString(root, "merge_method", "the recipe");
        var models = root.Children.TryGetValue(new YamlScalarNode("models"), out var mNode) ? ParseModels(ctx, mNode) : null;
        var slices = root.Children.TryGetValue(new YamlScalarNode("slices"), out var sNode) ? ParseSlices(ctx, sNode) : null;
        if (models is null && slices is null)
            throw new LlmMergeException($"{fileName}: the recipe needs 'models' or 'slices'");
        if (models is not null && slices is not null)
            throw new LlmMergeException($"{fileName}: give either 'models' or 'slices', not both (as mergekit requires)");

        string? tokenizerSource = ctx.OptionalString(root, "tokenizer_source");
        var tokens = new Dictionary<string, TokenEmbeddingSetting>();
        int? padTo = null;
        if (root.Children.TryGetValue(new YamlScalarNode("tokenizer"), out var tokNode))
        {
            if (tokNode is not YamlMappingNode tm)
                throw ctx.Error(tokNode, "'tokenizer' must be a mapping with 'source'");
            ctx.CheckKeys(tm, ["source", "tokens", "pad_to_multiple_of"], "tokenizer");
            if (tokenizerSource is not null)
                throw ctx.Error(tokNode, "give either 'tokenizer_source' or 'tokenizer', not both (as mergekit requires)");
            // mergekit's TokenizerConfig defaults its source to union.
            tokenizerSource = ctx.OptionalString(tm, "source") ?? "union";
            if (tm.Children.TryGetValue(new YamlScalarNode("tokens"), out var tokensNode) && tokensNode is not YamlScalarNode { Value: null or "" or "null" or "~" })
                tokens = ParseTokens(ctx, tokensNode);
            if (ctx.OptionalString(tm, "pad_to_multiple_of") is { } pad)
                padTo = int.TryParse(pad, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0 ? n
                    : throw ctx.Error(tm, $"tokenizer.pad_to_multiple_of must be a positive whole number, not '{pad}'");
        }

        return new MergeRecipe
        {
            MergeMethod = method,
            Models = models,
            Slices = slices,
            BaseModel = ctx.OptionalString(root, "base_model") is { } b ? ModelReference.Parse(b) : null,
            Parameters = root.Children.TryGetValue(new YamlScalarNode("parameters"), out var p) ? ParseParameters(ctx, p) : new Dictionary<string, ParameterSetting>(),
            DType = ctx.OptionalString(root, "dtype"),
            OutDType = ctx.OptionalString(root, "out_dtype"),
            TokenizerSource = tokenizerSource,
            TokenEmbeddings = tokens,
            PadToMultipleOf = padTo,
            ChatTemplate = ctx.OptionalString(root, "chat_template"),
            Calibration = root.Children.TryGetValue(new YamlScalarNode("calibration"), out var cal) ? ParseCalibration(ctx, cal) : null,
            SourceText = text,
        };
    }

    private static List<InputModel> ParseModels(Ctx ctx, YamlNode node)
    {
        if (node is not YamlSequenceNode seq)
            throw ctx.Error(node, "'models' must be a list of entries with 'model'");
        var res = new List<InputModel>();
        foreach (var item in seq)
        {
            if (item is YamlScalarNode s)
            {
                res.Add(new InputModel(ModelReference.Parse(s.Value!), new Dictionary<string, ParameterSetting>()));
                continue;
            }
            if (item is not YamlMappingNode m)
                throw ctx.Error(item, "each entry of 'models' must be a mapping with 'model'");
            ctx.CheckKeys(m, ["model", "parameters"], "a models entry");
            res.Add(new InputModel(ModelReference.Parse(ctx.RequiredString(m, "model", "a models entry")),
                m.Children.TryGetValue(new YamlScalarNode("parameters"), out var p) ? ParseParameters(ctx, p) : new Dictionary<string, ParameterSetting>()));
        }
        return res;
    }

    private static List<OutputSlice> ParseSlices(Ctx ctx, YamlNode node)
    {
        if (node is not YamlSequenceNode seq)
            throw ctx.Error(node, "'slices' must be a list of entries with 'sources'");
        var res = new List<OutputSlice>();
        foreach (var item in seq)
        {
            if (item is not YamlMappingNode m)
                throw ctx.Error(item, "each slice must be a mapping with 'sources'");
            ctx.CheckKeys(m, ["sources", "base_model", "residual_weight", "parameters"], "a slice");
            if (!m.Children.TryGetValue(new YamlScalarNode("sources"), out var srcNode) || srcNode is not YamlSequenceNode srcSeq || srcSeq.Children.Count == 0)
                throw ctx.Error(m, "a slice needs a non-empty 'sources' list");
            var sources = new List<InputSlice>();
            foreach (var s in srcSeq)
            {
                if (s is not YamlMappingNode sm)
                    throw ctx.Error(s, "each source must be a mapping with 'model' and 'layer_range'");
                ctx.CheckKeys(sm, ["model", "layer_range", "parameters"], "a slice source");
                int? start = null, end = null;
                if (sm.Children.TryGetValue(new YamlScalarNode("layer_range"), out var lr))
                {
                    if (lr is not YamlSequenceNode lrs || lrs.Children.Count != 2
                        || !int.TryParse(((YamlScalarNode)lrs[0]).Value, out int a) || !int.TryParse(((YamlScalarNode)lrs[1]).Value, out int z) || a < 0 || z < a)
                        throw ctx.Error(lr, "'layer_range' must be [start, end] with 0 <= start <= end");
                    start = a;
                    end = z;
                }
                sources.Add(new InputSlice(ModelReference.Parse(ctx.RequiredString(sm, "model", "a slice source")), start, end,
                    sm.Children.TryGetValue(new YamlScalarNode("parameters"), out var sp) ? ParseParameters(ctx, sp) : new Dictionary<string, ParameterSetting>()));
            }
            res.Add(new OutputSlice(sources,
                ctx.OptionalString(m, "base_model") is { } b ? ModelReference.Parse(b) : null,
                m.Children.TryGetValue(new YamlScalarNode("parameters"), out var p) ? ParseParameters(ctx, p) : new Dictionary<string, ParameterSetting>()));
        }
        return res;
    }

    /// <summary>mergekit's <c>tokenizer.tokens</c>: token → {source, force}; a source is a model, <c>{kind: zero}</c> or <c>{kind: model_token, model, token | token_id}</c>.</summary>
    private static Dictionary<string, TokenEmbeddingSetting> ParseTokens(Ctx ctx, YamlNode node)
    {
        if (node is not YamlMappingNode m)
            throw ctx.Error(node, "'tokenizer.tokens' must be a mapping of tokens to {source, force}");
        var res = new Dictionary<string, TokenEmbeddingSetting>(StringComparer.Ordinal);
        foreach (var (k, v) in m.Children)
        {
            string token = ((YamlScalarNode)k).Value ?? "";
            string where = $"tokenizer.tokens['{token}']";
            if (v is not YamlMappingNode tv)
                throw ctx.Error(v, $"{where} must be a mapping with 'source' and/or 'force'");
            ctx.CheckKeys(tv, ["source", "force"], where);
            TokenEmbeddingSource? source = null;
            if (tv.Children.TryGetValue(new YamlScalarNode("source"), out var sNode))
            {
                if (sNode is YamlScalarNode ss)
                {
                    source = string.IsNullOrEmpty(ss.Value) ? null : new TokenEmbeddingSource.Model(ModelReference.Parse(ss.Value));
                }
                else if (sNode is YamlMappingNode sm)
                {
                    ctx.CheckKeys(sm, ["kind", "model", "token", "token_id"], $"{where}.source");
                    string kind = ctx.RequiredString(sm, "kind", $"{where}.source");
                    if (kind == "zero")
                    {
                        source = new TokenEmbeddingSource.Zero();
                    }
                    else if (kind == "model_token")
                    {
                        var model = ModelReference.Parse(ctx.RequiredString(sm, "model", $"{where}.source"));
                        string? byName = ctx.OptionalString(sm, "token");
                        string? byId = ctx.OptionalString(sm, "token_id");
                        if ((byName is null) == (byId is null))
                            throw ctx.Error(sm, $"{where}.source: give exactly one of 'token' and 'token_id'");
                        int? id = byId is null ? null
                            : int.TryParse(byId, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 0 ? n
                            : throw ctx.Error(sm, $"{where}.source.token_id must be a whole number >= 0, not '{byId}'");
                        source = new TokenEmbeddingSource.ModelToken(model, id, byName);
                    }
                    else
                    {
                        throw ctx.Error(sm, $"{where}.source: unknown kind '{kind}'; use zero or model_token, or give a model path");
                    }
                }
                else
                {
                    throw ctx.Error(sNode, $"{where}.source must be a model path or a mapping with 'kind'");
                }
            }
            bool force = ctx.OptionalString(tv, "force") is { } f
                && (bool.TryParse(f, out bool b) ? b : throw ctx.Error(tv, $"{where}.force must be true or false, not '{f}'"));
            res[token] = new TokenEmbeddingSetting(source, force);
        }
        return res;
    }

    /// <summary><c>calibration: {tasks: [FILE, ...] | {MODEL: [FILE, ...]}, rows: 256, seed: 0, batch_size: 1}</c>.</summary>
    private static CalibrationSettings ParseCalibration(Ctx ctx, YamlNode node)
    {
        if (node is not YamlMappingNode m)
            throw ctx.Error(node, "'calibration' must be a mapping with 'tasks' (and optionally 'rows', 'seed', 'batch_size')");
        ctx.CheckKeys(m, ["tasks", "rows", "seed", "batch_size"], "calibration");
        if (!m.Children.TryGetValue(new YamlScalarNode("tasks"), out var tasksNode))
            throw ctx.Error(m, "calibration needs 'tasks': a list of task files, or a mapping from model to its task files");
        var shared = new List<string>();
        var perModel = new Dictionary<ModelReference, IReadOnlyList<string>>();
        if (tasksNode is YamlMappingNode byModel)
        {
            foreach (var (k, entry) in byModel.Children)
                perModel[ModelReference.Parse(((YamlScalarNode)k).Value ?? "")] = TaskList(ctx, entry, $"calibration.tasks['{((YamlScalarNode)k).Value}']");
        }
        else
        {
            shared = TaskList(ctx, tasksNode, "calibration.tasks");
        }
        int Whole(string key, int fallback, int min)
        {
            if (ctx.OptionalString(m, key) is not { } text)
                return fallback;
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= min ? n
                : throw ctx.Error(m, $"calibration.{key} must be a whole number of at least {min}, not '{text}'");
        }
        ulong seed = ctx.OptionalString(m, "seed") is { } s
            ? ulong.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong v) ? v : throw ctx.Error(m, $"calibration.seed must be a whole number >= 0, not '{s}'")
            : 0;
        return new CalibrationSettings
        {
            Tasks = shared,
            PerModelTasks = perModel,
            Rows = Whole("rows", CalibrationSettings.DefaultRows, 1),
            Seed = seed,
            BatchSize = Whole("batch_size", 1, 1),
        };
    }

    private static List<string> TaskList(Ctx ctx, YamlNode node, string where)
    {
        var files = node switch
        {
            YamlScalarNode { Value: { Length: > 0 } one } => [one],
            YamlSequenceNode seq when seq.Children.All(c => c is YamlScalarNode { Value.Length: > 0 }) => seq.Children.Select(c => ((YamlScalarNode)c).Value!).ToList(),
            _ => throw ctx.Error(node, $"{where} must be a task file or a list of task files"),
        };
        if (files.Count == 0)
            throw ctx.Error(node, $"{where} is an empty list; name at least one task file");
        return files;
    }

    private static Dictionary<string, ParameterSetting> ParseParameters(Ctx ctx, YamlNode node)
    {
        if (node is not YamlMappingNode m)
            throw ctx.Error(node, "'parameters' must be a mapping of names to values");
        var res = new Dictionary<string, ParameterSetting>();
        foreach (var (k, v) in m.Children)
            res[((YamlScalarNode)k).Value!] = ParseSetting(ctx, v, ((YamlScalarNode)k).Value!);
        return res;
    }

    private static ParameterSetting ParseSetting(Ctx ctx, YamlNode node, string name)
    {
        switch (node)
        {
            case YamlScalarNode s:
                return new ParameterSetting.Scalar(ParseScalar(s));
            case YamlSequenceNode seq when seq.Children.All(c => c is YamlScalarNode):
            {
                var values = seq.Children.Select(c => ParseScalar((YamlScalarNode)c)).ToArray();
                if (values.Length == 0)
                    throw ctx.Error(node, $"parameter '{name}' is an empty list");
                return values.All(v => v is double)
                    ? new ParameterSetting.Gradient(values.Cast<double>().ToArray())
                    : new ParameterSetting.Steps(values);
            }
            case YamlSequenceNode seq:
                return new ParameterSetting.Conditional(seq.Children.Select(c => ParseCondition(ctx, c, name)).ToList());
            case YamlMappingNode:
                return new ParameterSetting.Conditional([ParseCondition(ctx, node, name)]);
            default:
                throw ctx.Error(node, $"parameter '{name}' has a value of an unsupported form");
        }
    }

    private static (string?, ParameterSetting) ParseCondition(Ctx ctx, YamlNode node, string name)
    {
        if (node is not YamlMappingNode m)
            throw ctx.Error(node, $"parameter '{name}': a list entry must be a number or a mapping with 'filter' and 'value'");
        ctx.CheckKeys(m, ["filter", "value"], $"a condition of parameter '{name}'");
        if (!m.Children.TryGetValue(new YamlScalarNode("value"), out var v))
            throw ctx.Error(m, $"parameter '{name}': a condition needs a 'value'");
        return (ctx.OptionalString(m, "filter"), ParseSetting(ctx, v, name));
    }

    private static object ParseScalar(YamlScalarNode s)
    {
        string v = s.Value ?? "";
        if (s.Style is ScalarStyle.Plain)
        {
            if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
                return d;
            if (v is "true" or "True" or "TRUE")
                return true;
            if (v is "false" or "False" or "FALSE")
                return false;
        }
        return v;
    }

    private sealed class Ctx(string file)
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

        public string RequiredString(YamlMappingNode m, string key, string where) =>
            OptionalString(m, key) ?? throw Error(m, $"{where} needs '{key}'");

        public string? OptionalString(YamlMappingNode m, string key)
        {
            if (!m.Children.TryGetValue(new YamlScalarNode(key), out var v))
                return null;
            if (v is not YamlScalarNode s)
                throw Error(v, $"'{key}' must be a single value");
            return string.IsNullOrEmpty(s.Value) || s.Value == "null" || s.Value == "~" ? null : s.Value;
        }
    }
}
