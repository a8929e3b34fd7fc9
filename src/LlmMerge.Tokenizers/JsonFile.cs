using System.Text.Json;
using LlmMerge.Core;

namespace LlmMerge.Tokenizers;

/// <summary>Reads one JSON file of a model folder; every failure names that file.</summary>
internal sealed class JsonFile
{
    private JsonFile(string path, JsonElement root)
    {
        Path = path;
        Root = root;
    }

    public string Path { get; }

    public JsonElement Root { get; }

    public static JsonFile Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException ex)
        {
            throw new LlmMergeException($"{path}: cannot be read ({ex.Message}). Check the file exists and is readable.", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new LlmMergeException($"{path}: cannot be read ({ex.Message}). Check the file's permissions.", ex);
        }

        try
        {
            // Cloned so the document's pooled buffers can be released at once; tokenizer files are read once.
            using JsonDocument doc = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            return new JsonFile(path, doc.RootElement.Clone());
        }
        catch (JsonException ex)
        {
            throw new LlmMergeException($"{path}: is not valid JSON ({ex.Message}). Re-download or regenerate the tokenizer files.", ex);
        }
    }

    public LlmMergeException Error(string problem) => new($"{Path}: {problem}");

    /// <summary>The property, or null when it is missing or JSON null.</summary>
    public static JsonElement? Get(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public string? GetString(JsonElement obj, string name, string where)
    {
        JsonElement? v = Get(obj, name);
        if (v is null) return null;
        if (v.Value.ValueKind != JsonValueKind.String) throw Error($"{where}.{name} must be a string, found {v.Value.ValueKind}.");
        return v.Value.GetString();
    }

    public string RequireString(JsonElement obj, string name, string where) =>
        GetString(obj, name, where) ?? throw Error($"{where}.{name} is missing.");

    public bool? GetBool(JsonElement obj, string name, string where)
    {
        JsonElement? v = Get(obj, name);
        if (v is null) return null;
        return v.Value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error($"{where}.{name} must be true or false, found {v.Value.ValueKind}."),
        };
    }

    public int? GetInt(JsonElement obj, string name, string where)
    {
        JsonElement? v = Get(obj, name);
        if (v is null) return null;
        if (v.Value.ValueKind != JsonValueKind.Number || !v.Value.TryGetInt32(out int i)) throw Error($"{where}.{name} must be an integer.");
        return i;
    }

    /// <summary>A token given either as a string or as an AddedToken object with "content" (transformers writes both).</summary>
    public string? GetTokenContent(JsonElement obj, string name, string where)
    {
        JsonElement? v = Get(obj, name);
        if (v is null) return null;
        if (v.Value.ValueKind == JsonValueKind.String) return v.Value.GetString();
        if (v.Value.ValueKind == JsonValueKind.Object) return RequireString(v.Value, "content", $"{where}.{name}");
        throw Error($"{where}.{name} must be a string or an object with \"content\".");
    }
}
