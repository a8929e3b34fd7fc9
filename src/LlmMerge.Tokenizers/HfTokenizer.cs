using LlmMerge.Core;

namespace LlmMerge.Tokenizers;

/// <summary>A Hugging Face tokenizer loaded from a model folder (tokenizer.json, else tokenizer.model), encoding as transformers' tokenizer(text) does.</summary>
public sealed class HfTokenizer
{
    // transformers' fast classes that rebuild their post-processor from add_bos_token/add_eos_token
    // (update_post_processor); for every other class the tokenizer.json post-processor alone decides.
    private static readonly HashSet<string> ClassesWithBosFlags = new(StringComparer.Ordinal)
    {
        "LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast",
    };

    private readonly TokenizerCore _core;

    private HfTokenizer(TokenizerCore core, TokenizerConfig config)
    {
        _core = core;
        BosTokenId = config.BosToken is null ? null : core.TokenToId(config.BosToken);
        EosTokenId = config.EosToken is null ? null : core.TokenToId(config.EosToken);
        PadTokenId = config.PadToken is null ? null : core.TokenToId(config.PadToken);
        ChatTemplate = config.ChatTemplate;
        ChatTemplates = config.ChatTemplates;
        ChatTemplateFile = config.ChatTemplateFile;
        BosToken = config.BosToken;
        EosToken = config.EosToken;
        PadToken = config.PadToken;
        UnkToken = config.UnkToken;
        ModelMaxLength = config.ModelMaxLength;

        // A file without bos_token in its config but with a one-token prefix in its post-processor: that token is BOS.
        if (BosTokenId is null && core.SpecialPrefix.Count == 1) BosTokenId = core.SpecialPrefix[0];
        AddsBos = BosTokenId is int bos && core.SpecialPrefix.Count > 0 && core.SpecialPrefix[0] == bos;
    }

    /// <summary>The beginning-of-sequence token's text as tokenizer_config.json names it (transformers' <c>tokenizer.bos_token</c>), or null.</summary>
    public string? BosToken { get; }

    /// <summary>The beginning-of-sequence token's id, when the tokenizer has one.</summary>
    public int? BosTokenId { get; }

    /// <summary>The end-of-sequence token's id, when the tokenizer has one.</summary>
    public int? EosTokenId { get; }

    /// <summary>The padding token's id, when the tokenizer names one.</summary>
    public int? PadTokenId { get; }

    /// <summary>Whether <see cref="Encode"/> with special tokens prepends BOS.</summary>
    public bool AddsBos { get; }

    /// <summary>Number of distinct ids: the model vocabulary plus added tokens outside it (transformers' len(tokenizer)).</summary>
    public int VocabSize => _core.VocabSize;

    /// <summary>The Jinja chat template from tokenizer_config.json (or chat_template.jinja), if any.</summary>
    public string? ChatTemplate { get; }

    /// <summary>Every chat template by name: a list's {name, template} entries, or the single template as "default".</summary>
    public IReadOnlyDictionary<string, string> ChatTemplates { get; }

    /// <summary>The file <see cref="ChatTemplate"/> was read from (tokenizer_config.json or chat_template.jinja), for messages.</summary>
    public string? ChatTemplateFile { get; }

    /// <summary>The other special tokens' text, as a chat template sees them (eos_token, pad_token, unk_token).</summary>
    public string? EosToken { get; }

    public string? PadToken { get; }

    public string? UnkToken { get; }

    /// <summary>tokenizer_config.json's model_max_length, or null when unset (transformers' 1e30 sentinel).</summary>
    public long? ModelMaxLength { get; }

    /// <summary>Loads the tokenizer in <paramref name="modelDir"/>: tokenizer.json if present, else tokenizer.model, with tokenizer_config.json and special_tokens_map.json.</summary>
    public static HfTokenizer FromFolder(string modelDir)
    {
        if (!Directory.Exists(modelDir))
            throw new LlmMergeException($"{modelDir}: model folder not found. Pass the folder that holds tokenizer.json or tokenizer.model.");

        TokenizerConfig config = TokenizerConfig.Load(modelDir);
        string jsonPath = Path.Combine(modelDir, "tokenizer.json");
        string modelPath = Path.Combine(modelDir, "tokenizer.model");
        TokenizerCore core;
        if (File.Exists(jsonPath)) core = TokenizerJson.Load(jsonPath);
        else if (File.Exists(modelPath)) core = SentencePieceModel.Load(modelPath, config);
        else
            throw new LlmMergeException($"{modelDir}: has neither tokenizer.json nor tokenizer.model. Copy the tokenizer files of the model (or of the merge's tokenizer source) into this folder.");

        if (core is TokenizerJson && config.TokenizerClass is string cls && ClassesWithBosFlags.Contains(cls)
            && (config.AddBosToken is not null || config.AddEosToken is not null))
        {
            int? bos = config.BosToken is null ? null : core.TokenToId(config.BosToken);
            int? eos = config.EosToken is null ? null : core.TokenToId(config.EosToken);
            bool addBos = config.AddBosToken ?? (core.SpecialPrefix.Count > 0);
            bool addEos = config.AddEosToken ?? (core.SpecialSuffix.Count > 0);
            core.OverrideSpecialTokens(addBos ? bos : null, addEos ? eos : null);
        }

        return new HfTokenizer(core, config);
    }

    /// <summary>Token ids of <paramref name="text"/>; with <paramref name="addSpecialTokens"/> the post-processor's tokens (BOS, EOS) are added, as tokenizer(text) does.</summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _core.Encode(text, addSpecialTokens);
    }

    /// <summary>Text of <paramref name="ids"/> through the tokenizer's decoder; special tokens are dropped when <paramref name="skipSpecialTokens"/>.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return _core.Decode(ids, skipSpecialTokens);
    }

    /// <summary>The id of a token string (added tokens first, then the vocabulary), or null.</summary>
    public int? TokenToId(string token) => _core.TokenToId(token);
}
