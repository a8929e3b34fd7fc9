using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmMerge.Core.Models;

/// <summary>A model's <c>config.json</c>, kept as JSON so fields we do not know survive a merge unchanged.</summary>
public sealed class ModelConfig
{
    public JsonObject Json { get; }

    public string? Path { get; }

    public ModelConfig(JsonObject json, string? path = null)
    {
        Json = json;
        Path = path;
    }

    public static ModelConfig Load(string path)
    {
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path));
            return node is JsonObject o ? new ModelConfig(o, path) : throw new LlmMergeException($"{path}: config.json is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new LlmMergeException($"{path}: config.json is not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>The first entry of <c>architectures</c>, e.g. LlamaForCausalLM.</summary>
    public string? Architecture => Json["architectures"] is JsonArray { Count: > 0 } a ? a[0]?.GetValue<string>() : null;

    public string? ModelType => Json["model_type"]?.GetValue<string>();

    public int? NumHiddenLayers => Json["num_hidden_layers"] is JsonValue v && v.TryGetValue(out int n) ? n : null;

    public bool? TieWordEmbeddings => Json["tie_word_embeddings"] is JsonValue v && v.TryGetValue(out bool b) ? b : null;

    public int? VocabSize => Json["vocab_size"] is JsonValue v && v.TryGetValue(out int n) ? n : null;

    public ModelConfig Clone() => new((JsonObject)Json.DeepClone(), Path);

    public string ToJsonString() => Json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}
