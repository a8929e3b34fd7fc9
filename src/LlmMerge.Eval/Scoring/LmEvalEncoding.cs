using LlmMerge.Core;
using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// lm-evaluation-harness's request encoding (TemplateLM.loglikelihood and _encode_pair in lm_eval/api/model.py):
/// trailing whitespace of the context moves to the front of the continuation; the context is encoded as the
/// tokenizer encodes a prompt (with BOS where it adds one); the continuation's tokens are those of the encoding
/// of context + continuation beyond the context's length. An empty context becomes the BOS token (EOS when the
/// tokenizer has no BOS: lm-eval's prefix_token_id) and the continuation is encoded alone.
/// </summary>
public static class LmEvalEncoding
{
    /// <summary>The context's and the continuation's token ids.</summary>
    public static (IReadOnlyList<int> Context, IReadOnlyList<int> Continuation) EncodePair(HfTokenizer tokenizer, string context, string continuation)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (context.Length == 0)
            return (Prefix(tokenizer), tokenizer.Encode(continuation, addSpecialTokens: false));

        int trimmed = context.TrimEnd().Length;
        if (trimmed < context.Length)
        {
            continuation = context[trimmed..] + continuation;
            context = context[..trimmed];
        }

        IReadOnlyList<int> whole = tokenizer.Encode(context + continuation, addSpecialTokens: true);
        IReadOnlyList<int> contextIds = tokenizer.Encode(context, addSpecialTokens: true);
        var continuationIds = whole.Skip(contextIds.Count).ToArray();

        // A context of whitespace alone leaves nothing to condition on where the tokenizer adds no BOS; the model
        // needs one token, so it gets the prefix token lm-eval uses for an empty context.
        if (contextIds.Count == 0) contextIds = Prefix(tokenizer);
        return (contextIds, continuationIds);
    }

    private static int[] Prefix(HfTokenizer tokenizer) =>
        tokenizer.BosTokenId is int bos ? [bos]
        : tokenizer.EosTokenId is int eos ? [eos]
        : throw new LlmMergeException("the tokenizer has neither a BOS nor an EOS token to stand for an empty context.");
}
