using System.Text.Json.Nodes;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>
/// A small hand-made tokenizer.json in the layout of Llama 2 and Mistral (SentencePiece converted to BPE):
/// &lt;unk&gt; &lt;s&gt; &lt;/s&gt;, the 256 byte tokens &lt;0x00&gt;..&lt;0xFF&gt; at ids 3..258, then these pieces and merges.
/// </summary>
internal static class SentencePieceStyleFixture
{
    // Ids from 259 on, in this order.
    public static readonly string[] Pieces =
    [
        "▁", "h", "e", "l", "o", "w", "r", "d", "a", "t", "!", // 259..269
        "▁h", "ll", "ell", "▁hell", "▁hello", "▁w", "or", "▁wor", "ld", "▁world", "at", // 270..280
    ];

    // Rank order: the comment gives the merged piece's id.
    public static readonly (string Left, string Right)[] Merges =
    [
        ("▁", "h"), // 1 → ▁h 270
        ("l", "l"), // 2 → ll 271
        ("e", "ll"), // 3 → ell 272
        ("▁h", "ell"), // 4 → ▁hell 273
        ("▁hell", "o"), // 5 → ▁hello 274
        ("▁", "w"), // 6 → ▁w 275
        ("o", "r"), // 7 → or 276
        ("▁w", "or"), // 8 → ▁wor 277
        ("l", "d"), // 9 → ld 278
        ("▁wor", "ld"), // 10 → ▁world 279
        ("a", "t"), // 11 → at 280
    ];

    public static int ByteId(byte b) => 3 + b;

    /// <summary>Writes the folder; <paramref name="legacy"/> picks Llama 2's Prepend/Replace normalizer, otherwise the newer Metaspace pre-tokenizer (prepend_scheme "first").</summary>
    public static void Write(string folder, bool legacy = true, bool byteFallback = true, bool addEosToken = false, JsonArray? extraAddedTokens = null)
    {
        var vocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = ByteId((byte)b);
        for (int i = 0; i < Pieces.Length; i++) vocab[Pieces[i]] = 259 + i;

        var merges = new JsonArray();
        foreach ((string l, string r) in Merges) merges.Add($"{l} {r}");

        var added = new JsonArray(Special(0, "<unk>"), Special(1, "<s>"), Special(2, "</s>"));
        foreach (JsonNode? t in extraAddedTokens ?? []) added.Add(t!.DeepClone());

        JsonNode? normalizer = legacy
            ? JsonNode.Parse("""
                {"type": "Sequence", "normalizers": [
                  {"type": "Prepend", "prepend": "▁"},
                  {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
                """)
            : null;
        JsonNode? preTokenizer = legacy
            ? null
            : JsonNode.Parse("""{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}""");
        JsonNode decoder = legacy
            ? JsonNode.Parse("""
                {"type": "Sequence", "decoders": [
                  {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                  {"type": "ByteFallback"},
                  {"type": "Fuse"},
                  {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
                """)!
            : JsonNode.Parse("""{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}""")!;

        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = JsonNode.Parse("""
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                          {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
                """),
            ["decoder"] = decoder,
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = "<unk>",
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = true,
                ["byte_fallback"] = byteFallback,
                ["vocab"] = vocab,
                ["merges"] = merges,
            },
        };
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), root.ToJsonString());
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), $$"""
            {"add_bos_token": true, "add_eos_token": {{(addEosToken ? "true" : "false")}}, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
             "pad_token": null, "legacy": true, "model_max_length": 1000000000000000019884624838656,
             "tokenizer_class": "LlamaTokenizer"}
            """);
    }

    public static JsonObject Token(int id, string content, bool special, bool lstrip = false, bool rstrip = false, bool singleWord = false) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = singleWord,
        ["lstrip"] = lstrip,
        ["rstrip"] = rstrip,
        ["normalized"] = false,
        ["special"] = special,
    };

    private static JsonObject Special(int id, string content) => Token(id, content, special: true);
}
