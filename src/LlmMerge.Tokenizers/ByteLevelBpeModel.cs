namespace LlmMerge.Tokenizers;

/// <summary>A byte-level BPE vocabulary: tokens (in GPT-2's byte alphabet) to ids, merges in rank order, and the special tokens among the ids.</summary>
public sealed record ByteLevelBpeModel(
    IReadOnlyDictionary<string, int> Vocab,
    IReadOnlyList<(string Left, string Right)> Merges,
    IReadOnlyList<string> SpecialTokens);
