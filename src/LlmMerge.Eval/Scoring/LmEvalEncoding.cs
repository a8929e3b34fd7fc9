using LlmMerge.Core;
using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// lm-evaluation-harness's request encoding (TemplateLM.loglikelihood and _encode_pair in lm_eval/api/model.py, HFLM's
/// tok_encode and tok_batch_encode in lm_eval/models/huggingface.py, at 4e7e0d47): trailing whitespace of the context
/// moves to the front of the continuation; a text is encoded as the tokenizer encodes a prompt (with BOS where it adds
/// one) unless it already starts with the BOS token's text, as a chat template's output often does; the
/// continuation's tokens are those of the encoding of context + continuation beyond the context's length. An empty
/// context becomes the BOS token (EOS when the tokenizer has no BOS: lm-eval's prefix_token_id) and the
/// continuation is encoded alone.
/// </summary>
public static class LmEvalEncoding
{
    /// <summary>The context's and the continuation's token ids.</summary>
    public static (IReadOnlyList<int> Context, IReadOnlyList<int> Continuation) EncodePair(HfTokenizer tokenizer, string context, string continuation)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (context.Length == 0)
        {
            var alone = tokenizer.Encode(continuation, addSpecialTokens: false);
            int[] prefix = Prefix(tokenizer);
            return alone.Count > 0 && alone[0] == prefix[0] ? (alone.Take(1).ToArray(), alone.Skip(1).ToArray()) : (prefix, alone);
        }

        int trimmed = context.TrimEnd().Length;
        if (trimmed < context.Length)
        {
            continuation = context[trimmed..] + continuation;
            context = context[..trimmed];
        }

        IReadOnlyList<int> whole = Encode(tokenizer, context + continuation);
        IReadOnlyList<int> contextIds = Encode(tokenizer, context);
        var continuationIds = whole.Skip(contextIds.Count).ToArray();

        // A context of whitespace alone leaves nothing to condition on where the tokenizer adds no BOS; the model
        // needs one token, so it gets the prefix token lm-eval uses for an empty context.
        if (contextIds.Count == 0) contextIds = Prefix(tokenizer);
        return (contextIds, continuationIds);
    }

    /// <summary>HFLM.tok_encode: special tokens as the tokenizer adds them, none when the text already starts with the prefix token's text.</summary>
    public static IReadOnlyList<int> Encode(HfTokenizer tokenizer, string text)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        int? prefix = tokenizer.BosTokenId ?? tokenizer.EosTokenId;
        bool hasPrefix = prefix is int p && text.StartsWith(tokenizer.Decode([p]), StringComparison.Ordinal) && tokenizer.Decode([p]).Length > 0;
        return tokenizer.Encode(text, addSpecialTokens: !hasPrefix);
    }

    /// <summary>HFLM.tok_batch_encode for generation prompts: special tokens unless the prompt starts with the BOS token's text.</summary>
    public static IReadOnlyList<int> EncodePrompt(HfTokenizer tokenizer, string prompt)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        bool hasBos = tokenizer.BosToken is { Length: > 0 } bos && prompt.StartsWith(bos, StringComparison.Ordinal);
        return tokenizer.Encode(prompt, addSpecialTokens: !hasBos);
    }

    /// <summary>lm-eval's prefix_token_id: BOS, else EOS.</summary>
    public static int[] Prefix(HfTokenizer tokenizer) =>
        tokenizer.BosTokenId is int bos ? [bos]
        : tokenizer.EosTokenId is int eos ? [eos]
        : throw new LlmMergeException("the tokenizer has neither a BOS nor an EOS token to stand for an empty context.");
}
