using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Modeling.Moe;

/// <summary>
/// One expert of a mixture: the gated feed-forward down(act(gate(x)) · up(x)) under its checkpoint's names, Mixtral's
/// <c>w1</c> (gate), <c>w3</c> (up), <c>w2</c> (down) or Qwen2-MoE's <c>gate_proj</c>, <c>up_proj</c>, <c>down_proj</c>,
/// at the expert's own width. No biases: neither architecture has them.
/// </summary>
public sealed class ExpertMlp : nn.Module<Tensor, Tensor>
{
    // TorchSharp also names modules by their fields, so each projection sits in a field of its checkpoint name; the
    // other architecture's fields stay null.
    private readonly LinearProjection? w1;
    private readonly LinearProjection? w2;
    private readonly LinearProjection? w3;
    private readonly LinearProjection? gate_proj;
    private readonly LinearProjection? up_proj;
    private readonly LinearProjection? down_proj;
    private readonly string _activation;

    public ExpertMlp(long hidden, long intermediate, string activation, bool mixtralNames, Device device, ScalarType dtype)
        : base(nameof(ExpertMlp))
    {
        _activation = activation;
        var gate = new LinearProjection(hidden, intermediate, false, device, dtype);
        var up = new LinearProjection(hidden, intermediate, false, device, dtype);
        var down = new LinearProjection(intermediate, hidden, false, device, dtype);
        if (mixtralNames)
        {
            // MixtralBlockSparseTop2MLP's order: w1 (gate), w2 (down), w3 (up).
            (w1, w2, w3) = (gate, down, up);
            register_module(nameof(w1), w1);
            register_module(nameof(w2), w2);
            register_module(nameof(w3), w3);
        }
        else
        {
            (gate_proj, up_proj, down_proj) = (gate, up, down);
            register_module(nameof(gate_proj), gate_proj);
            register_module(nameof(up_proj), up_proj);
            register_module(nameof(down_proj), down_proj);
        }
    }

    /// <summary>[tokens, hidden] to [tokens, hidden].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var gate = (w1 ?? gate_proj)!.forward(x);
        // The activations GatedMlp knows, so an expert computes what the dense MLP it came from computes.
        var activated = _activation switch
        {
            "silu" => nn.functional.silu(gate),
            "gelu_pytorch_tanh" => nn.functional.gelu(gate, TorchSharp.Modules.GELU.Approximate.tanh),
            _ => nn.functional.gelu(gate),
        };
        return (w2 ?? down_proj)!.forward(activated * (w3 ?? up_proj)!.forward(x)).MoveToOuterDisposeScope();
    }
}
