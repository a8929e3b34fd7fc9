using LlmMerge.Modeling.Moe;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// One pre-norm block (<c>model.layers.N</c>): x + self_attn(input_layernorm(x)), then + mlp(post_attention_layernorm(·)).
/// In a mixture-of-experts model the MLP of a sparse layer is a <see cref="SparseMoeBlock"/> (Mixtral names it
/// <c>block_sparse_moe</c>); everything else is the same.
/// </summary>
public sealed class DecoderLayer : nn.Module
{
    private readonly DecoderAttention self_attn;
    // TorchSharp also names modules by their fields: Mixtral's mixture sits in a field of its checkpoint name.
    private readonly nn.Module<Tensor, Tensor>? mlp;
    private readonly SparseMoeBlock? block_sparse_moe;
    private readonly RmsNorm input_layernorm;
    private readonly RmsNorm post_attention_layernorm;

    public DecoderLayer(CausalLmConfig c, Device device, ScalarType dtype, int layerIndex = 0)
        : base(nameof(DecoderLayer))
    {
        self_attn = new DecoderAttention(c, device, dtype);
        bool sparse = c.Moe is { } moe && moe.IsSparse(layerIndex);
        if (sparse && c.Moe!.Layout == MoeLayout.Mixtral)
            block_sparse_moe = new SparseMoeBlock(c, c.Moe, layerIndex, device, dtype);
        else
            mlp = sparse ? new SparseMoeBlock(c, c.Moe!, layerIndex, device, dtype) : new GatedMlp(c, device, dtype);
        input_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, device, dtype, c.NormWeightPlusOne);
        post_attention_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, device, dtype, c.NormWeightPlusOne);
        register_module(nameof(self_attn), self_attn);
        if (block_sparse_moe is not null)
            register_module(nameof(block_sparse_moe), block_sparse_moe);
        else
            register_module(nameof(mlp), mlp!);
        register_module(nameof(input_layernorm), input_layernorm);
        register_module(nameof(post_attention_layernorm), post_attention_layernorm);
    }

    public DecoderLayerOutput Forward(DecoderLayerInput input)
    {
        using var scope = NewDisposeScope();
        var x = input.HiddenStates;
        var h = x + self_attn.Forward(input_layernorm.forward(x), input.Cos, input.Sin, input.Mask, input.Cache, input.LayerIndex, input.Store, input.CacheRows);
        var y = h + (mlp ?? block_sparse_moe)!.forward(post_attention_layernorm.forward(h));
        return new DecoderLayerOutput(y.MoveToOuterDisposeScope());
    }
}
