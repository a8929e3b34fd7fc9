namespace LlmMerge.Tokenizers;

/// <summary>What <see cref="HfTokenizer"/> needs from a tokenizer file, whichever format it came in.</summary>
internal abstract class TokenizerCore
{
    /// <summary>Ids the post-processor puts before and after a single sequence when special tokens are added.</summary>
    public abstract IReadOnlyList<int> SpecialPrefix { get; }

    public abstract IReadOnlyList<int> SpecialSuffix { get; }

    public abstract int VocabSize { get; }

    public abstract List<int> Encode(string text, bool addSpecialTokens);

    public abstract string Decode(IEnumerable<int> ids, bool skipSpecialTokens);

    public abstract int? TokenToId(string token);

    /// <summary>transformers' LlamaTokenizerFast rebuilds the post-processor from add_bos_token/add_eos_token; this is that.</summary>
    public abstract void OverrideSpecialTokens(int? bos, int? eos);
}
