using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// Grouped-query self-attention (<c>self_attn</c>): q_proj, k_proj, v_proj, o_proj, rotary embeddings on q and k,
/// each key/value head shared by num_attention_heads / num_key_value_heads query heads. Phi-3 keeps q, k and v in
/// one fused qkv_proj (rows in that order), under its own name, so its checkpoints load as they are.
/// </summary>
public sealed class DecoderAttention : nn.Module
{
    private readonly LinearProjection? q_proj;
    private readonly LinearProjection? k_proj;
    private readonly LinearProjection? v_proj;
    private readonly LinearProjection? qkv_proj;
    private readonly LinearProjection o_proj;
    private readonly int _heads;
    private readonly int _kvHeads;
    private readonly int _headDim;

    public DecoderAttention(CausalLmConfig c, Device device, ScalarType dtype)
        : base(nameof(DecoderAttention))
    {
        _heads = c.NumAttentionHeads;
        _kvHeads = c.NumKeyValueHeads;
        _headDim = c.HeadDim;
        if (c.FusedProjections)
        {
            qkv_proj = new LinearProjection(c.HiddenSize, (_heads + 2 * _kvHeads) * _headDim, c.QkvBias, device, dtype);
            register_module(nameof(qkv_proj), qkv_proj);
        }
        else
        {
            q_proj = new LinearProjection(c.HiddenSize, _heads * _headDim, c.QkvBias, device, dtype);
            k_proj = new LinearProjection(c.HiddenSize, _kvHeads * _headDim, c.QkvBias, device, dtype);
            v_proj = new LinearProjection(c.HiddenSize, _kvHeads * _headDim, c.QkvBias, device, dtype);
            register_module(nameof(q_proj), q_proj);
            register_module(nameof(k_proj), k_proj);
            register_module(nameof(v_proj), v_proj);
        }
        o_proj = new LinearProjection(_heads * _headDim, c.HiddenSize, c.OutputBias, device, dtype);
        register_module(nameof(o_proj), o_proj);
    }

    /// <summary>
    /// [batch, seq, hidden] to [batch, seq, hidden]. With a cache, the new keys and values join the cached ones
    /// (and are kept when <paramref name="store"/>).
    /// </summary>
    internal Tensor Forward(Tensor x, Tensor cos, Tensor sin, AttentionMask mask, KeyValueCache? cache, int layer, bool store, Tensor? cacheRows = null)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], seq = x.shape[1];
        Tensor q, k, v;
        if (qkv_proj is not null)
        {
            var qkv = qkv_proj.forward(x);
            q = qkv.narrow(-1, 0, _heads * _headDim);
            k = qkv.narrow(-1, _heads * _headDim, _kvHeads * _headDim);
            v = qkv.narrow(-1, (_heads + _kvHeads) * _headDim, _kvHeads * _headDim);
        }
        else
        {
            (q, k, v) = (q_proj!.forward(x), k_proj!.forward(x), v_proj!.forward(x));
        }
        q = q.reshape(batch, seq, _heads, _headDim).transpose(1, 2);
        k = k.reshape(batch, seq, _kvHeads, _headDim).transpose(1, 2);
        v = v.reshape(batch, seq, _kvHeads, _headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null)
            (k, v) = cache.Append(layer, k, v, store, cacheRows);
        k = RepeatKv(k);
        v = RepeatKv(v);
        var attended = nn.functional.scaled_dot_product_attention(q, k, v, mask.Mask, 0.0, mask.IsCausal);
        var merged = attended.transpose(1, 2).reshape(batch, seq, _heads * _headDim);
        return o_proj.forward(merged).MoveToOuterDisposeScope();
    }

    // transformers' repeat_kv: [b, kv, s, d] -> [b, kv * n_rep, s, d], each kv head next to its copies.
    private Tensor RepeatKv(Tensor t)
    {
        int rep = _heads / _kvHeads;
        if (rep == 1)
            return t;
        long b = t.shape[0], s = t.shape[2];
        return t.unsqueeze(2).expand(b, _kvHeads, rep, s, _headDim).reshape(b, _heads, s, _headDim);
    }
}
