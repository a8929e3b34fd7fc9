using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlmMerge.Modeling.Moe;

/// <summary>
/// A mixture-of-experts feed-forward layer in place of a decoder layer's MLP, as transformers' MixtralSparseMoeBlock
/// and Qwen2MoeSparseMoeBlock compute it: router logits <c>gate(x)</c> from the post-attention-normed hidden state,
/// softmax in float32, the top k, their weights divided by their sum (Mixtral always; Qwen2-MoE where
/// norm_topk_prob) and cast back to the model's dtype; each expert runs only on the tokens routed to it and its
/// weighted output is added in expert order; Qwen2-MoE adds its shared expert scaled by sigmoid(shared_expert_gate(x)).
/// Works on any [batch, seq, hidden], so cached and batched passes of the dense decoder apply unchanged.
/// </summary>
public sealed class SparseMoeBlock : nn.Module<Tensor, Tensor>
{
    private readonly LinearProjection gate;
    private readonly ModuleList<ExpertMlp> experts;
    private readonly ExpertMlp? shared_expert;
    private readonly LinearProjection? shared_expert_gate;
    private readonly int _topK;
    private readonly bool _normalize;

    public SparseMoeBlock(CausalLmConfig c, MoeShape moe, int layerIndex, Device device, ScalarType dtype)
        : base(nameof(SparseMoeBlock))
    {
        LayerIndex = layerIndex;
        _topK = moe.ExpertsPerToken;
        _normalize = moe.Layout == MoeLayout.Mixtral || moe.NormTopKProb;
        bool mixtral = moe.Layout == MoeLayout.Mixtral;
        gate = new LinearProjection(c.HiddenSize, moe.NumExperts, false, device, dtype);
        experts = new ModuleList<ExpertMlp>(Enumerable.Range(0, moe.NumExperts)
            .Select(_ => new ExpertMlp(c.HiddenSize, moe.ExpertIntermediateSize, c.HiddenAct, mixtral, device, dtype)).ToArray());
        register_module(nameof(gate), gate);
        register_module(nameof(experts), experts);
        if (moe.SharedExpertIntermediateSize > 0)
        {
            shared_expert = new ExpertMlp(c.HiddenSize, moe.SharedExpertIntermediateSize, c.HiddenAct, false, device, dtype);
            shared_expert_gate = new LinearProjection(c.HiddenSize, 1, false, device, dtype);
            register_module(nameof(shared_expert), shared_expert);
            register_module(nameof(shared_expert_gate), shared_expert_gate);
        }
    }

    /// <summary>The decoder layer this block belongs to.</summary>
    public int LayerIndex { get; }

    public int NumExperts => experts.Count;

    /// <summary>Set while a caller captures router logits.</summary>
    internal ActivationCapture? Capture { get; set; }

    /// <summary>[batch, seq, hidden] (already post_attention_layernorm-ed) to the layer's feed-forward output.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long hidden = x.shape[^1];
        var flat = x.reshape(-1, hidden);
        var logits = gate.forward(flat);
        Capture?.RouterLogits?.Invoke(LayerIndex, logits);
        var probs = logits.to(ScalarType.Float32).softmax(1);
        var (weights, chosen) = probs.topk(_topK, dim: -1);
        if (_normalize)
            weights = weights / weights.sum(-1, keepdim: true);
        var flatWeights = weights.to(x.dtype).reshape(-1);

        // One copy of the [tokens, k] choices to the host; there the (token, slot) pairs are grouped by expert, so one
        // gather feeds every expert a contiguous block of its own tokens and one index_add puts the weighted outputs
        // back, in expert order, as transformers' loop over the experts adds them.
        var picks = chosen.cpu().data<long>().ToArray();
        var counts = new int[experts.Count];
        foreach (long e in picks)
            counts[e]++;
        var starts = new int[experts.Count];
        for (int e = 1; e < experts.Count; e++)
            starts[e] = starts[e - 1] + counts[e - 1];
        var rows = new long[picks.Length];
        var slots = new long[picks.Length];
        var next = (int[])starts.Clone();
        for (int slot = 0; slot < picks.Length; slot++)
        {
            int at = next[picks[slot]]++;
            rows[at] = slot / _topK;
            slots[at] = slot;
        }
        var rowIndex = tensor(rows, device: x.device);
        var routed = flat.index_select(0, rowIndex);
        var outputs = new List<Tensor>();
        for (int e = 0; e < experts.Count; e++)
        {
            if (counts[e] > 0)
                outputs.Add(experts[e].forward(routed.narrow(0, starts[e], counts[e])));
        }
        var weighted = cat(outputs, 0) * flatWeights.index_select(0, tensor(slots, device: x.device)).unsqueeze(1);
        var output = zeros_like(flat).index_add_(0, rowIndex, weighted, 1);
        if (shared_expert is not null)
            output = output + nn.functional.sigmoid(shared_expert_gate!.forward(flat)) * shared_expert.forward(flat);
        return output.reshape(x.shape).MoveToOuterDisposeScope();
    }
}
