using LlmMerge.Core;
using Microsoft.ML.Tokenizers;

namespace LlmMerge.Tokenizers;

/// <summary>A SentencePiece tokenizer.model (Llama 2, Mistral before tokenizer.json), read by Microsoft.ML.Tokenizers.</summary>
internal sealed class SentencePieceModel : TokenizerCore
{
    private readonly SentencePieceTokenizer _sp;
    private readonly HashSet<int> _special;
    private bool _addBos;
    private bool _addEos;

    private SentencePieceModel(SentencePieceTokenizer sp, bool addBos, bool addEos, HashSet<int> special)
    {
        _sp = sp;
        _addBos = addBos;
        _addEos = addEos;
        _special = special;
        VocabSize = sp.Vocabulary.Values.Concat(special).Distinct().Count();
    }

    public override IReadOnlyList<int> SpecialPrefix => _addBos ? [_sp.BeginningOfSentenceId] : [];

    public override IReadOnlyList<int> SpecialSuffix => _addEos ? [_sp.EndOfSentenceId] : [];

    public override int VocabSize { get; }

    public static SentencePieceModel Load(string path, TokenizerConfig config)
    {
        // transformers' LlamaTokenizer defaults: BOS yes, EOS no.
        bool addBos = config.AddBosToken ?? true;
        bool addEos = config.AddEosToken ?? false;
        var extra = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (id, token) in config.AddedTokens)
        {
            extra[token.Content] = id;
        }

        SentencePieceTokenizer sp;
        try
        {
            using Stream stream = File.OpenRead(path);
            sp = LlamaTokenizer.Create(stream, addBos, addEos, extra.Count == 0 ? null : extra);
        }
        catch (Exception ex) when (ex is not LlmMergeException and not OutOfMemoryException)
        {
            throw new LlmMergeException($"{path}: is not a SentencePiece model Microsoft.ML.Tokenizers can read ({ex.Message}). Re-download it, or provide tokenizer.json.", ex);
        }

        var special = new HashSet<int>(config.AddedTokens.Where(kv => kv.Value.Special).Select(kv => kv.Key))
        {
            sp.BeginningOfSentenceId,
            sp.EndOfSentenceId,
            sp.UnknownId,
        };
        return new SentencePieceModel(sp, addBos, addEos, special);
    }

    public override List<int> Encode(string text, bool addSpecialTokens) =>
        _sp.EncodeToIds(text, addSpecialTokens && _addBos, addSpecialTokens && _addEos).ToList();

    public override string Decode(IEnumerable<int> ids, bool skipSpecialTokens) =>
        _sp.Decode(skipSpecialTokens ? ids.Where(id => !_special.Contains(id)) : ids, considerSpecialTokens: !skipSpecialTokens);

    public override int? TokenToId(string token) =>
        _sp.SpecialTokens?.TryGetValue(token, out int s) == true ? s : _sp.Vocabulary.TryGetValue(token, out int id) ? id : null;

    public override void OverrideSpecialTokens(int? bos, int? eos)
    {
        _addBos = bos is not null;
        _addEos = eos is not null;
    }
}
