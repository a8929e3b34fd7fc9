using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>The token embedding table (<c>weight</c> [vocab, hidden]); a row lookup that autograd differentiates.</summary>
public sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;

    public TokenEmbedding(long vocab, long hidden, Device device, ScalarType dtype)
        : base(nameof(TokenEmbedding))
    {
        weight = new Parameter(empty([vocab, hidden], dtype, device));
        register_parameter(nameof(weight), weight);
    }

    public Tensor Weight => weight;

    /// <summary>[batch, seq] token ids to [batch, seq, hidden].</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var rows = weight.index_select(0, inputIds.reshape(-1));
        return rows.reshape(inputIds.shape[0], inputIds.shape[1], weight.shape[1]).MoveToOuterDisposeScope();
    }
}
