using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// What a forward pass hands to a caller on the way, opt-in: the hidden state entering each decoder layer
/// (transformers' <c>hidden_states[:-1]</c>, what mergekit-moe's gates and routing prototypes compare) and the
/// input of each linear projection (RegMean's Gram matrices). The tensors passed belong to the pass's dispose
/// scope: reduce them into tensors of your own, or keep a copy with <c>clone().DetachFromDisposeScope()</c>.
/// Attach with <see cref="DecoderForCausalLM.Capture"/>.
/// </summary>
public sealed class ActivationCapture
{
    /// <summary>Layer index and the hidden state [batch, seq, hidden] entering that layer (index 0: the embeddings' output).</summary>
    public Action<int, Tensor>? LayerInput { get; init; }

    /// <summary>A projection's Hugging Face module name (<c>model.layers.3.mlp.down_proj</c>) and its input [batch, seq, in_features].</summary>
    public Action<string, Tensor>? ProjectionInput { get; init; }

    /// <summary>
    /// A mixture-of-experts layer's index and its router logits [tokens, experts] (tokens: the batch's positions,
    /// row-major), before the softmax; how a caller sees which experts each token is sent to.
    /// </summary>
    public Action<int, Tensor>? RouterLogits { get; init; }

    /// <summary>Which projections to report; null reports every one.</summary>
    public Func<string, bool>? ProjectionFilter { get; init; }

    internal bool WantsProjection(string name) => ProjectionInput is not null && (ProjectionFilter?.Invoke(name) ?? true);
}
