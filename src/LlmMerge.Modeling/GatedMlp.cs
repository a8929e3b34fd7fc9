using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// Gated feed-forward (<c>mlp</c>): down_proj(act(gate_proj(x)) · up_proj(x)); SwiGLU with silu, GeGLU with gelu.
/// Phi-3 fuses gate and up into gate_up_proj (gate rows first).
/// </summary>
public sealed class GatedMlp : nn.Module<Tensor, Tensor>
{
    private readonly LinearProjection? gate_proj;
    private readonly LinearProjection? up_proj;
    private readonly LinearProjection? gate_up_proj;
    private readonly LinearProjection down_proj;
    private readonly string _activation;

    public GatedMlp(CausalLmConfig c, Device device, ScalarType dtype)
        : base(nameof(GatedMlp))
    {
        _activation = c.HiddenAct;
        if (c.FusedProjections)
        {
            gate_up_proj = new LinearProjection(c.HiddenSize, 2L * c.IntermediateSize, c.MlpBias, device, dtype);
            register_module(nameof(gate_up_proj), gate_up_proj);
        }
        else
        {
            gate_proj = new LinearProjection(c.HiddenSize, c.IntermediateSize, c.MlpBias, device, dtype);
            up_proj = new LinearProjection(c.HiddenSize, c.IntermediateSize, c.MlpBias, device, dtype);
            register_module(nameof(gate_proj), gate_proj);
            register_module(nameof(up_proj), up_proj);
        }
        down_proj = new LinearProjection(c.IntermediateSize, c.HiddenSize, c.MlpBias, device, dtype);
        register_module(nameof(down_proj), down_proj);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor gate, up;
        if (gate_up_proj is not null)
        {
            var both = gate_up_proj.forward(x);
            long n = both.shape[^1] / 2;
            (gate, up) = (both.narrow(-1, 0, n), both.narrow(-1, n, n));
        }
        else
        {
            (gate, up) = (gate_proj!.forward(x), up_proj!.forward(x));
        }
        var activated = _activation switch
        {
            "silu" => nn.functional.silu(gate),
            "gelu_pytorch_tanh" => nn.functional.gelu(gate, TorchSharp.Modules.GELU.Approximate.tanh),
            _ => nn.functional.gelu(gate),
        };
        var hidden = activated * up;
        return down_proj.forward(hidden).MoveToOuterDisposeScope();
    }
}
