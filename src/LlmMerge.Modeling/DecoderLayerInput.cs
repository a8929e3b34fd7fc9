using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>What one decoder layer reads (as Microsoft.ML.GenAI's DecoderLayerInput): the hidden state and the pass's shared pieces.</summary>
public sealed record DecoderLayerInput
{
    /// <summary>[batch, seq, hidden] entering the layer.</summary>
    public required Tensor HiddenStates { get; init; }

    /// <summary>Rotary cos and sin for the new positions, shared by the layers.</summary>
    public required Tensor Cos { get; init; }

    public required Tensor Sin { get; init; }

    public required AttentionMask Mask { get; init; }

    public KeyValueCache? Cache { get; init; }

    public required int LayerIndex { get; init; }

    /// <summary>Keep this pass's keys and values in the cache.</summary>
    public bool Store { get; init; } = true;

    /// <summary>For a pass over a cache of several rows: the cached row each row of this pass continues (int64 [batch]).</summary>
    public Tensor? CacheRows { get; init; }
}

/// <summary>What one decoder layer returns; room for optional outputs (router logits of a mixture layer) beside the hidden state.</summary>
public sealed record DecoderLayerOutput(Tensor HiddenStates);
