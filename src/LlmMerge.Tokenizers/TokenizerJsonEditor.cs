using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMerge.Core;

namespace LlmMerge.Tokenizers;

/// <summary>
/// Rewrites a model's tokenizer.json and tokenizer_config.json for a merged vocabulary: tokens from an id on are
/// dropped (mergekit's get_stripped_tokenizer) and new tokens are appended as added tokens (what transformers'
/// <c>add_tokens</c> writes, which is how mergekit's union tokenizer grows; the BPE merges are not extended).
/// </summary>
public static class TokenizerJsonEditor
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes <paramref name="dstDir"/>'s tokenizer.json (and tokenizer_config.json, when the source has one) from <paramref name="srcDir"/>'s, edited.</summary>
    /// <param name="srcDir">The folder whose tokenizer files are edited.</param>
    /// <param name="dstDir">The folder the edited files are written to.</param>
    /// <param name="keepBelow">Tokens with ids from this on are removed; null keeps every token.</param>
    /// <param name="append">Added tokens to append, with their new ids.</param>
    public static void Write(string srcDir, string dstDir, int? keepBelow, IReadOnlyList<AddedTokenEntry> append)
    {
        string src = Path.Combine(srcDir, "tokenizer.json");
        JsonObject root = ReadObject(src);
        if (keepBelow is int limit)
            Strip(src, root, limit);
        var added = root["added_tokens"] as JsonArray ?? (JsonArray)(root["added_tokens"] = new JsonArray());
        foreach (var t in append)
        {
            added.Add(new JsonObject
            {
                ["id"] = t.Id, ["content"] = t.Content, ["single_word"] = t.SingleWord, ["lstrip"] = t.LStrip,
                ["rstrip"] = t.RStrip, ["normalized"] = t.Normalized, ["special"] = t.Special,
            });
        }
        File.WriteAllText(Path.Combine(dstDir, "tokenizer.json"), root.ToJsonString(Indented));

        // transformers reads added tokens from tokenizer_config.json's added_tokens_decoder too, and save_pretrained
        // writes them there: keep the two files telling the same story.
        string cfgPath = Path.Combine(srcDir, "tokenizer_config.json");
        if (!File.Exists(cfgPath))
            return;
        JsonObject cfg = ReadObject(cfgPath);
        if (cfg["added_tokens_decoder"] is JsonObject decoder)
        {
            if (keepBelow is int lim)
            {
                foreach (var key in decoder.Select(kv => kv.Key).Where(k => int.TryParse(k, out int id) && id >= lim).ToList())
                    decoder.Remove(key);
            }
            foreach (var t in append)
            {
                decoder[t.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
                {
                    ["content"] = t.Content, ["lstrip"] = t.LStrip, ["normalized"] = t.Normalized, ["rstrip"] = t.RStrip,
                    ["single_word"] = t.SingleWord, ["special"] = t.Special,
                };
            }
        }
        File.WriteAllText(Path.Combine(dstDir, "tokenizer_config.json"), cfg.ToJsonString(Indented));
    }

    /// <summary>mergekit's get_stripped_tokenizer: drops added tokens and vocabulary entries from <paramref name="limit"/> on, and merges that use them.</summary>
    private static void Strip(string path, JsonObject root, int limit)
    {
        var unused = new HashSet<string>(StringComparer.Ordinal);
        if (root["model"] is not JsonObject model || model["vocab"] is not JsonObject vocab)
            throw new LlmMergeException($"{path}: has tokens past the model's vocab_size ({limit}) and is not a BPE tokenizer.json, which is all that can be cut (as in mergekit)");
        foreach (var (token, id) in vocab.ToList())
        {
            if (id is JsonValue v && v.TryGetValue(out int i) && i >= limit)
                unused.Add(token);
        }
        if (root["added_tokens"] is JsonArray added)
        {
            for (int i = added.Count - 1; i >= 0; i--)
            {
                var entry = TokenizerVocabulary.ReadAdded(path, added[i], $"added_tokens[{i}]");
                if (entry.Id >= limit)
                {
                    unused.Add(entry.Content);
                    added.RemoveAt(i);
                }
            }
        }
        foreach (var token in unused)
            vocab.Remove(token);
        if (model["merges"] is JsonArray merges)
        {
            for (int i = merges.Count - 1; i >= 0; i--)
            {
                IEnumerable<string?> parts = merges[i] switch
                {
                    JsonArray pair => pair.Select(p => p?.GetValue<string>()),
                    JsonValue s when s.TryGetValue(out string? text) => text.Split(' '),
                    _ => throw new LlmMergeException($"{path}: model.merges[{i}] is neither \"a b\" nor [a, b]"),
                };
                if (parts.Any(p => p is not null && unused.Contains(p)))
                    merges.RemoveAt(i);
            }
        }
    }

    internal static JsonObject ReadObject(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new LlmMergeException($"{path}: cannot be read ({ex.Message})", ex);
        }
        try
        {
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }) as JsonObject
                ?? throw new LlmMergeException($"{path}: must hold a JSON object");
        }
        catch (JsonException ex)
        {
            throw new LlmMergeException($"{path}: is not valid JSON ({ex.Message}); re-download or regenerate the tokenizer files", ex);
        }
    }
}
