using LlmMerge.Core;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// Answers a generation row as the competition starter kit's <c>generate</c> does: the input encoded by the input
/// tokenizer (BOS where it adds one), greedy decoding for up to <c>max_gen_len</c> new tokens or until EOS, the new
/// tokens decoded with special tokens skipped. The prompt is cut from the left to leave room for the new tokens.
/// </summary>
public sealed class GreedyGenerator
{
    /// <summary>The starter kit's max_gen_len (llm_merging/merging/*.py set self.max_gen_len = 64).</summary>
    public const int DefaultMaxGenLen = 64;

    private readonly ICausalLanguageModel _model;
    private readonly HfTokenizer _tokenizer;
    private readonly ScoringMode _mode;
    private readonly int _maxGenLen;

    /// <summary>A generator with <paramref name="model"/> that writes at most <paramref name="maxGenLen"/> tokens per row.</summary>
    public GreedyGenerator(ICausalLanguageModel model, HfTokenizer tokenizer, ScoringMode mode, int maxGenLen = DefaultMaxGenLen)
    {
        if (maxGenLen < 1) throw new ArgumentOutOfRangeException(nameof(maxGenLen), maxGenLen, "at least one new token");
        _model = model;
        _tokenizer = tokenizer;
        _mode = mode;
        _maxGenLen = maxGenLen;
    }

    /// <summary>The generated text for <paramref name="row"/> and the tokens the model ran (prompt plus new).</summary>
    public (string Text, long Tokens) Generate(EvalRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        IReadOnlyList<int> prompt = _mode == ScoringMode.StarterKit
            ? StarterKitEncoding.EncodeInput(_tokenizer, row.Context)
            : _tokenizer.Encode(row.Context, addSpecialTokens: true);
        if (prompt.Count == 0)
        {
            prompt = _tokenizer.BosTokenId is int bos ? [bos]
                : _tokenizer.EosTokenId is int eos ? [eos]
                : throw new LlmMergeException($"{row.Source}: row id {row.Id}: the input encodes to no tokens.");
        }

        int room = Math.Max(1, _model.MaxSequenceLength - _maxGenLen);
        if (prompt.Count > room) prompt = prompt.Skip(prompt.Count - room).ToArray();
        int maxNew = Math.Min(_maxGenLen, _model.MaxSequenceLength - prompt.Count);
        var stop = new HashSet<int>();
        if (_tokenizer.EosTokenId is int stopId) stop.Add(stopId);
        IReadOnlyList<int> generated = maxNew > 0 ? _model.GenerateGreedy(prompt, maxNew, stop) : [];
        return (_tokenizer.Decode(generated, skipSpecialTokens: true), prompt.Count + generated.Count);
    }
}
