using LlmMerge.Tokenizers;
using static TorchSharp.torch;

namespace LlmMerge.Zoo;

/// <summary>A padded batch of documents: input ids and next-token targets, with <see cref="Ignore"/> where nothing is trained.</summary>
public static class ZooBatch
{
    /// <summary>cross_entropy's ignore_index: padding and prompt positions.</summary>
    public const long Ignore = -100;

    /// <summary>Inputs [batch, longest - 1] and targets of the same shape (target j is token j + 1).</summary>
    public static (Tensor Inputs, Tensor Targets) Make(HfTokenizer tokenizer, IReadOnlyList<ZooDocument> docs, int padId)
    {
        var encoded = docs.Select(d => ZooTokenizer.Encode(tokenizer, d)).ToList();
        int len = encoded.Max(e => e.Ids.Length) - 1;
        var inputs = new long[docs.Count * len];
        var targets = new long[docs.Count * len];
        Array.Fill(inputs, padId);
        Array.Fill(targets, Ignore);
        for (int b = 0; b < encoded.Count; b++)
        {
            var (ids, from) = encoded[b];
            for (int j = 0; j < ids.Length - 1; j++)
            {
                inputs[b * len + j] = ids[j];
                if (j + 1 >= from)
                    targets[b * len + j] = ids[j + 1];
            }
        }
        return (tensor(inputs, [docs.Count, len]), tensor(targets, [docs.Count, len]));
    }
}
