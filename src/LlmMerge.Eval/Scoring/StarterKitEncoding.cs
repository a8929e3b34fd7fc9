using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// The LLM Merging competition starter kit's multiple-choice encoding (llm-merging/LLM-Merging,
/// llm_merging/model/decoder_functions.py predict_multiple_choice and tokenize_batch, with the tokenizers set up in
/// llm_merging/merging/Merges.py _load_tokenizer). What is matched:
/// <list type="bullet">
/// <item>the input is encoded by the input tokenizer as it comes (BOS where the tokenizer adds one), with no
/// delimiter and no whitespace moved; truncation="longest_first" cuts it from the right at the tokenizer's
/// model_max_length;</item>
/// <item>each choice is encoded alone by the target tokenizer, set to add_bos_token=False and add_eos_token=True:
/// the choice's tokens without BOS, then EOS;</item>
/// <item>the choices run on the input's key/value cache; logits[..., :-1] are scored against ids[..., 1:], so the
/// first choice token is fed but never scored, and every later token, EOS included, is; right padding is
/// masked out, so it changes nothing;</item>
/// <item>the prediction is torch.max over the summed log-probabilities (the first of equal maxima).</item>
/// </list>
/// The kit appends EOS because Llama's fast tokenizer rebuilds its post-processor from add_eos_token; here EOS is
/// appended wherever the tokenizer has one.
/// </summary>
public static class StarterKitEncoding
{
    /// <summary>The input's token ids, as the kit's input tokenizer gives them.</summary>
    public static IReadOnlyList<int> EncodeInput(HfTokenizer tokenizer, string input)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        IReadOnlyList<int> ids = tokenizer.Encode(input, addSpecialTokens: true);
        if (tokenizer.ModelMaxLength is long max && max > 0 && ids.Count > max)
            ids = ids.Take((int)max).ToArray();
        return ids;
    }

    /// <summary>A choice's token ids as the kit's target tokenizer gives them: no BOS, then EOS.</summary>
    public static IReadOnlyList<int> EncodeChoice(HfTokenizer tokenizer, string choice)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = tokenizer.Encode(choice, addSpecialTokens: false).ToList();
        if (tokenizer.EosTokenId is int eos) ids.Add(eos);
        return ids;
    }
}
