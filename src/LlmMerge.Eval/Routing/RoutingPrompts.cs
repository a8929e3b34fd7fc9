using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Routing;

/// <summary>
/// How a prompt or a query becomes token ids for routing, as mergekit-moe's tokenize_prompts (mergekit/moe/router.py at
/// a6e40288): the tokenizer's BOS text before the prompt and no other special tokens, so [BOS] + the prompt's own tokens
/// (no BOS where the tokenizer has none). Prototypes and queries are encoded alike, so they compare alike.
/// </summary>
public static class RoutingPrompts
{
    /// <summary>The prompt's ids, or an empty list when its text encodes to no tokens (the caller names it in an error).</summary>
    public static IReadOnlyList<int> Encode(HfTokenizer tokenizer, string text, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var own = tokenizer.Encode(text, addSpecialTokens: false);
        if (own.Count == 0)
            return [];
        int room = maxLength - (tokenizer.BosTokenId is null ? 0 : 1);
        // Longer than the model's window: the end is kept, as evaluation cuts contexts from the left.
        var kept = own.Count > room ? own.Skip(own.Count - room) : own;
        return tokenizer.BosTokenId is int bos ? [bos, .. kept] : kept.ToArray();
    }
}
