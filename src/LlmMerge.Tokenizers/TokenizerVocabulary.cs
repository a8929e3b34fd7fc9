using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMerge.Core;

namespace LlmMerge.Tokenizers;

/// <summary>An entry of tokenizer.json's <c>added_tokens</c>, with the settings Hugging Face keeps for it.</summary>
public sealed record AddedTokenEntry(int Id, string Content, bool Special, bool SingleWord, bool LStrip, bool RStrip, bool Normalized)
{
    /// <summary>The same token with its settings but another id; two entries compare by settings with this.</summary>
    public AddedTokenEntry WithId(int id) => this with { Id = id };
}

/// <summary>
/// The token → id map of a tokenizer.json as transformers' <c>get_vocab()</c> returns it (the model's vocabulary, then
/// the added tokens over it), read without building an encoder, so any model type (BPE, Unigram, WordPiece) serves.
/// </summary>
public sealed class TokenizerVocabulary
{
    private readonly Dictionary<string, int> _vocab;

    private TokenizerVocabulary(string path, Dictionary<string, int> vocab, List<AddedTokenEntry> added)
    {
        Path = path;
        _vocab = vocab;
        AddedTokens = added;
    }

    /// <summary>The tokenizer.json this was read from.</summary>
    public string Path { get; }

    /// <summary>Token → id: the model's vocabulary and the added tokens (an added token's id wins, as in tokenizers).</summary>
    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    /// <summary>The <c>added_tokens</c> entries in file order.</summary>
    public IReadOnlyList<AddedTokenEntry> AddedTokens { get; }

    /// <summary>Every token ordered by id (ties by string), so callers that walk the vocabulary do it the same way every run.</summary>
    public IEnumerable<KeyValuePair<string, int>> ById() =>
        _vocab.OrderBy(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal);

    /// <summary>Reads the tokenizer.json in <paramref name="modelDir"/>, or returns null when the folder has none.</summary>
    public static TokenizerVocabulary? FromFolder(string modelDir)
    {
        string path = System.IO.Path.Combine(modelDir, "tokenizer.json");
        return File.Exists(path) ? Load(path) : null;
    }

    /// <summary>Reads a tokenizer.json; a malformed file is an error naming it.</summary>
    public static TokenizerVocabulary Load(string path)
    {
        JsonObject root = TokenizerJsonEditor.ReadObject(path);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        switch ((root["model"] as JsonObject)?["vocab"])
        {
            case JsonObject map:
                foreach (var (token, id) in map)
                    vocab[token] = Int(path, id, $"model.vocab['{token}']");
                break;
            case JsonArray pieces:
                // Unigram: [[piece, score], ...], the id being the position.
                for (int i = 0; i < pieces.Count; i++)
                {
                    if (pieces[i] is not JsonArray { Count: >= 1 } piece || piece[0] is not JsonValue v || !v.TryGetValue(out string? s))
                        throw new LlmMergeException($"{path}: model.vocab[{i}] is not [piece, score]; re-save the tokenizer with transformers");
                    vocab.TryAdd(s, i);
                }
                break;
            default:
                throw new LlmMergeException($"{path}: has no model.vocab; it is not a Hugging Face tokenizer.json with a vocabulary");
        }

        var added = new List<AddedTokenEntry>();
        if (root["added_tokens"] is JsonArray list)
        {
            for (int i = 0; i < list.Count; i++)
            {
                var entry = ReadAdded(path, list[i], $"added_tokens[{i}]");
                added.Add(entry);
                vocab[entry.Content] = entry.Id;
            }
        }
        return new TokenizerVocabulary(path, vocab, added);
    }

    internal static AddedTokenEntry ReadAdded(string path, JsonNode? node, string where)
    {
        if (node is not JsonObject o || o["content"] is not JsonValue c || !c.TryGetValue(out string? content))
            throw new LlmMergeException($"{path}: {where} has no 'content'; re-save the tokenizer with transformers");
        bool special = Bool(o, "special") ?? false;
        return new AddedTokenEntry(Int(path, o["id"], $"{where}.id"), content, special,
            Bool(o, "single_word") ?? false, Bool(o, "lstrip") ?? false, Bool(o, "rstrip") ?? false,
            Bool(o, "normalized") ?? !special);
    }

    private static bool? Bool(JsonObject o, string key) =>
        o[key] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : null;

    private static int Int(string path, JsonNode? node, string where) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int i) && i >= 0 ? i
        : throw new LlmMergeException($"{path}: {where} is not a token id (a whole number >= 0)");
}
