using System.Text.RegularExpressions;

namespace LlmMerge.Engine.Execution;

/// <summary>Reads the structure Hugging Face tensor names carry: which layer a tensor belongs to, and embeddings.</summary>
public static partial class TensorNames
{
    [GeneratedRegex(@"^(?<prefix>(?:.*\.)?(?:layers|h|blocks)\.)(?<index>\d+)(?<rest>\..+)$")]
    private static partial Regex LayerPattern();

    /// <summary>Splits <c>model.layers.3.mlp.up_proj.weight</c> into (<c>model.layers.</c>, 3, <c>.mlp.up_proj.weight</c>).</summary>
    public static bool TryParseLayer(string name, out string prefix, out int index, out string rest)
    {
        var m = LayerPattern().Match(name);
        if (m.Success && int.TryParse(m.Groups["index"].Value, out index))
        {
            prefix = m.Groups["prefix"].Value;
            rest = m.Groups["rest"].Value;
            return true;
        }
        prefix = rest = "";
        index = -1;
        return false;
    }

    /// <summary>Input and output embeddings, whose vocabulary dimension may differ between models.</summary>
    public static bool IsEmbedding(string name) =>
        name.Contains("embed_tokens", StringComparison.Ordinal) || name.StartsWith("lm_head", StringComparison.Ordinal)
        || name.Contains(".wte.", StringComparison.Ordinal) || name.Contains("word_embeddings", StringComparison.Ordinal);

    /// <summary>The output head (lm_head, GPT-NeoX's embed_out), which tied models do not store.</summary>
    public static bool IsLmHead(string name) =>
        name.StartsWith("lm_head.", StringComparison.Ordinal) || name.Contains(".lm_head.", StringComparison.Ordinal) || name == "embed_out.weight";

    /// <summary>Tensors before the first layer (mergekit's pre_weights: embeddings); the rest of the non-layer tensors come after.</summary>
    public static bool IsPreWeight(string name) =>
        name.Contains("embed", StringComparison.Ordinal) || name.Contains(".wte.", StringComparison.Ordinal) || name.Contains(".wpe.", StringComparison.Ordinal);
}
