using System.Text.Json;
using LlmMerge.Tokenizers.Pipeline;

namespace LlmMerge.Tokenizers;

/// <summary>A Hugging Face tokenizer.json with a BPE model: added tokens, normalizer, pre-tokenizer, model, post-processor, decoder.</summary>
internal sealed class TokenizerJson : TokenizerCore
{
    private readonly AddedTokenMatcher _rawAdded;
    private readonly AddedTokenMatcher _normalizedAdded;
    private readonly Dictionary<int, AddedToken> _addedById = new();
    private readonly Dictionary<string, int> _addedByContent = new(StringComparer.Ordinal);
    private readonly HfNormalizer? _normalizer;
    private readonly HfPreTokenizer? _preTokenizer;
    private readonly BpeModel _model;
    private readonly HfDecoder? _decoder;
    private HfPostProcessor _postProcessor;

    private TokenizerJson(JsonFile file)
    {
        JsonElement root = file.Root;
        if (root.ValueKind != JsonValueKind.Object) throw file.Error("must hold a JSON object.");

        _model = ParseModel(file, JsonFile.Get(root, "model") ?? throw file.Error("has no \"model\"; it is not a Hugging Face tokenizer.json."));
        _normalizer = HfNormalizer.Parse(file, JsonFile.Get(root, "normalizer"));
        _preTokenizer = HfPreTokenizer.Parse(file, JsonFile.Get(root, "pre_tokenizer"));
        _decoder = HfDecoder.Parse(file, JsonFile.Get(root, "decoder"));
        _postProcessor = HfPostProcessor.Parse(file, JsonFile.Get(root, "post_processor"));

        var added = new List<AddedToken>();
        if (JsonFile.Get(root, "added_tokens") is JsonElement list)
        {
            int i = 0;
            foreach (JsonElement t in list.EnumerateArray())
            {
                string where = $"added_tokens[{i++}]";
                var token = new AddedToken(
                    file.GetInt(t, "id", where) ?? throw file.Error($"{where}.id is missing."),
                    file.RequireString(t, "content", where),
                    file.GetBool(t, "special", where) ?? false,
                    file.GetBool(t, "single_word", where) ?? false,
                    file.GetBool(t, "lstrip", where) ?? false,
                    file.GetBool(t, "rstrip", where) ?? false,
                    file.GetBool(t, "normalized", where) ?? !(file.GetBool(t, "special", where) ?? false));
                added.Add(token);
                _addedById[token.Id] = token;
                _addedByContent[token.Content] = token.Id;
            }
        }

        // As in Hugging Face: tokens with normalized=false are found in the raw text, the others in the normalized pieces.
        _rawAdded = new AddedTokenMatcher(added.Where(t => !t.Normalized || _normalizer is null));
        _normalizedAdded = new AddedTokenMatcher(added.Where(t => t.Normalized && _normalizer is not null), _normalizer is null ? null : _normalizer.Normalize);
        VocabSize = _model.Vocabulary.Values.Concat(_addedById.Keys).Distinct().Count();
    }

    public override IReadOnlyList<int> SpecialPrefix => _postProcessor.Prefix;

    public override IReadOnlyList<int> SpecialSuffix => _postProcessor.Suffix;

    public override int VocabSize { get; }

    public static TokenizerJson Load(string path) => new(JsonFile.Load(path));

    public override int? TokenToId(string token) => _addedByContent.TryGetValue(token, out int id) ? id : _model.TokenToId(token);

    public override void OverrideSpecialTokens(int? bos, int? eos) =>
        _postProcessor = new HfPostProcessor(bos is int b ? [b] : [], eos is int e ? [e] : []);

    public override List<int> Encode(string text, bool addSpecialTokens)
    {
        var ids = new List<int>();
        foreach (Segment raw in _rawAdded.Split(text))
        {
            if (raw.TokenId is int rawId)
            {
                ids.Add(rawId);
                continue;
            }

            string normalized = _normalizer?.Normalize(raw.Text) ?? raw.Text;
            foreach (Segment seg in _normalizedAdded.Split(normalized))
            {
                if (seg.TokenId is int id)
                {
                    ids.Add(id);
                    continue;
                }

                if (seg.Text.Length == 0) continue;
                List<Piece> pieces = [new Piece(seg.Text, raw.Start == 0 && seg.Start == 0)];
                if (_preTokenizer is not null) pieces = _preTokenizer.PreTokenize(pieces);
                foreach (Piece piece in pieces) _model.Encode(piece.Text, ids);
            }
        }

        return addSpecialTokens ? _postProcessor.Apply(ids) : ids;
    }

    public override string Decode(IEnumerable<int> ids, bool skipSpecialTokens)
    {
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (_addedById.TryGetValue(id, out AddedToken? added))
            {
                if (!(skipSpecialTokens && added.Special)) tokens.Add(added.Content);
                continue;
            }

            // Unknown ids are skipped, as Hugging Face does.
            if (_model.IdToToken(id) is string token) tokens.Add(token);
        }

        return _decoder is null ? string.Join(' ', tokens) : string.Concat(_decoder.DecodeChain(tokens));
    }

    private static BpeModel ParseModel(JsonFile file, JsonElement model)
    {
        const string where = "model";
        string type = file.GetString(model, "type", where) ?? (JsonFile.Get(model, "merges") is not null ? "BPE" : "(none)");
        if (type != "BPE")
        {
            throw file.Error($"model type '{type}' is not supported; only BPE tokenizers (GPT-2, Llama, Mistral, Qwen2 and the like) are. "
                + "Use a model whose tokenizer is BPE, or convert this one.");
        }

        foreach (string unsupported in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (file.GetString(model, unsupported, where) is { Length: > 0 } v)
                throw file.Error($"model.{unsupported} '{v}' is not supported (only null).");
        }

        if (JsonFile.Get(model, "dropout") is JsonElement dropout && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
            throw file.Error("model.dropout is set; BPE dropout is for training and is not supported. Set it to null.");

        JsonElement vocabJson = JsonFile.Get(model, "vocab") ?? throw file.Error("model.vocab is missing.");
        if (vocabJson.ValueKind != JsonValueKind.Object) throw file.Error("model.vocab must be an object of token: id.");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty p in vocabJson.EnumerateObject())
        {
            if (!p.Value.TryGetInt32(out int id)) throw file.Error($"model.vocab['{p.Name}'] must be an integer id.");
            vocab[p.Name] = id;
        }

        var merges = new List<(string, string)>();
        if (JsonFile.Get(model, "merges") is JsonElement mergesJson)
        {
            int i = 0;
            foreach (JsonElement m in mergesJson.EnumerateArray())
            {
                // Two forms: "left right" (every file before tokenizers 0.20) and ["left", "right"].
                if (m.ValueKind == JsonValueKind.String)
                {
                    string s = m.GetString()!;
                    int space = s.IndexOf(' ', StringComparison.Ordinal);
                    if (space <= 0 || space == s.Length - 1 || s.IndexOf(' ', space + 1) >= 0) throw file.Error($"model.merges[{i}] '{s}' is not \"left right\".");
                    merges.Add((s[..space], s[(space + 1)..]));
                }
                else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                {
                    merges.Add((m[0].GetString()!, m[1].GetString()!));
                }
                else
                {
                    throw file.Error($"model.merges[{i}] must be \"left right\" or [\"left\", \"right\"].");
                }

                i++;
            }
        }

        try
        {
            return new BpeModel(
                vocab,
                merges,
                file.GetString(model, "unk_token", where),
                file.GetBool(model, "fuse_unk", where) ?? false,
                file.GetBool(model, "byte_fallback", where) ?? false,
                file.GetBool(model, "ignore_merges", where) ?? false);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            throw file.Error($"its BPE model is inconsistent ({ex.Message}). Re-download or regenerate the tokenizer.");
        }
    }
}
