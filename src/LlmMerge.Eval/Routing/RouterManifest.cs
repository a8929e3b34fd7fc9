using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMerge.Core;

namespace LlmMerge.Eval.Routing;

/// <summary>
/// A routed system's router.json: its kind (query, task, arrow), gate mode and layer, its base and experts (by path or
/// Hub id, with fingerprints), task routing's choices, and Arrow's top-k and temperature. The prototypes live beside
/// it in router.safetensors. A folder with router.json is a model to <c>llmmerge eval</c>.
/// </summary>
public sealed record RouterManifest
{
    public const string FileName = "router.json";
    public const string WeightsFile = "router.safetensors";
    public const string Format = "llmmerge-router";

    /// <summary>Query routing's prototypes [experts, hidden] in router.safetensors.</summary>
    public const string PrototypesTensor = "prototypes";

    public required RoutingKind Kind { get; init; }

    public required string GateMode { get; init; }

    /// <summary>The hidden state compared: the one entering this layer (query routing).</summary>
    public int Layer { get; init; }

    public required RouterExpertEntry Base { get; init; }

    public required IReadOnlyList<RouterExpertEntry> Experts { get; init; }

    public IReadOnlyList<RouterTaskChoice> Tasks { get; init; } = [];

    public int TopK { get; init; } = 1;

    public double Temperature { get; init; } = 1.0;

    /// <summary>Positive and negative prompts each expert's prototype was computed from (a record for the card).</summary>
    public IReadOnlyDictionary<string, (int Positive, int Negative)> Prompts { get; init; } = new Dictionary<string, (int, int)>();

    public static bool IsRouterFolder(string dir) => File.Exists(Path.Combine(dir, FileName));

    public static string KindName(RoutingKind kind) => kind.ToString().ToLowerInvariant();

    public int ExpertIndex(string name)
    {
        for (int i = 0; i < Experts.Count; i++)
        {
            if (Experts[i].Name == name)
                return i;
        }
        return -1;
    }

    public string ToJson()
    {
        var experts = new JsonArray();
        foreach (var e in Experts) experts.Add(Entry(e));
        var root = new JsonObject
        {
            ["format"] = Format,
            ["version"] = 1,
            ["kind"] = KindName(Kind),
            ["gate_mode"] = GateMode,
        };
        if (Kind == RoutingKind.Query) root["layer"] = Layer;
        root["base"] = Entry(Base);
        root["experts"] = experts;
        if (Kind == RoutingKind.Task)
        {
            var tasks = new JsonObject();
            foreach (var t in Tasks)
            {
                var scores = new JsonObject();
                foreach (var (k, v) in t.Scores) scores[k] = v;
                tasks[t.Task] = new JsonObject { ["expert"] = t.Expert, ["validation"] = t.ValidationFile, ["validation_acc"] = scores };
            }
            root["tasks"] = tasks;
        }
        if (Kind == RoutingKind.Arrow)
            root["arrow"] = new JsonObject { ["top_k"] = TopK, ["router_temperature"] = Temperature };
        if (Prompts.Count > 0)
        {
            var prompts = new JsonObject();
            foreach (var (k, (p, n)) in Prompts) prompts[k] = new JsonObject { ["positive"] = p, ["negative"] = n };
            root["prompts"] = prompts;
        }
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static JsonObject Entry(RouterExpertEntry e)
    {
        var o = new JsonObject { ["name"] = e.Name, ["path"] = e.Path };
        if (e.Repo is not null)
        {
            o["repo"] = e.Repo;
            o["revision"] = e.Revision;
        }
        o["fingerprint"] = e.Fingerprint;
        return o;
    }

    /// <summary>Reads <c>DIR/router.json</c>; a one-line error names the file and the key that is wrong.</summary>
    public static RouterManifest Read(string dir)
    {
        string path = Path.Combine(dir, FileName);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new LlmMergeException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new LlmMergeException($"{path}: not valid JSON ({e.Message})", e);
        }
        if (Str(root, "format", path) != Format)
            throw new LlmMergeException($"{path}: 'format' is not '{Format}'; this is not a router written by llmmerge route");
        var kind = Str(root, "kind", path) switch
        {
            "query" => RoutingKind.Query,
            "task" => RoutingKind.Task,
            "arrow" => RoutingKind.Arrow,
            var k => throw new LlmMergeException($"{path}: unknown kind '{k}'; a router is query, task or arrow"),
        };
        var experts = (root["experts"] as JsonArray ?? throw new LlmMergeException($"{path}: 'experts' must be a list"))
            .Select(n => ReadEntry(n, path)).ToList();
        if (experts.Count == 0)
            throw new LlmMergeException($"{path}: 'experts' is empty");
        var tasks = new List<RouterTaskChoice>();
        if (root["tasks"] is JsonObject t)
        {
            foreach (var (name, node) in t)
            {
                var o = node as JsonObject ?? throw new LlmMergeException($"{path}: tasks.{name} must be an object");
                var scores = new Dictionary<string, double>(StringComparer.Ordinal);
                if (o["validation_acc"] is JsonObject s)
                    foreach (var (k, v) in s) scores[k] = v?.GetValue<double>() ?? double.NaN;
                string expert = Str(o, "expert", path);
                if (!experts.Any(e => e.Name == expert))
                    throw new LlmMergeException($"{path}: tasks.{name} routes to expert '{expert}', which is not in 'experts'");
                tasks.Add(new RouterTaskChoice(name, expert, o["validation"]?.GetValue<string>() ?? "", scores));
            }
        }
        var arrow = root["arrow"] as JsonObject;
        return new RouterManifest
        {
            Kind = kind,
            GateMode = Str(root, "gate_mode", path),
            Layer = root["layer"]?.GetValue<int>() ?? 0,
            Base = ReadEntry(root["base"], path),
            Experts = experts,
            Tasks = tasks,
            TopK = arrow?["top_k"]?.GetValue<int>() ?? 1,
            Temperature = arrow?["router_temperature"]?.GetValue<double>() ?? 1.0,
        };
    }

    private static RouterExpertEntry ReadEntry(JsonNode? node, string path)
    {
        var o = node as JsonObject ?? throw new LlmMergeException($"{path}: an expert entry must be an object with name, path and fingerprint");
        return new RouterExpertEntry(Str(o, "name", path), Str(o, "path", path), o["repo"]?.GetValue<string>(), o["revision"]?.GetValue<string>(), Str(o, "fingerprint", path));
    }

    private static string Str(JsonObject o, string key, string path) =>
        o[key] is JsonValue v && v.TryGetValue(out string? s) && s is not null ? s
        : throw new LlmMergeException($"{path}: '{key}' must be a string");
}
