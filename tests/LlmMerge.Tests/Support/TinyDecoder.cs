using System.Text.Json.Nodes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Support;

/// <summary>The shape of a tiny decoder; defaults give grouped-query attention (4 heads, 2 kv heads).</summary>
public sealed record TinyDecoderShape
{
    public string Architecture { get; init; } = "LlamaForCausalLM";
    public string ModelType { get; init; } = "llama";
    public int Hidden { get; init; } = 32;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 2;
    public int HeadDim { get; init; } = 8;
    public int Intermediate { get; init; } = 48;
    public int Layers { get; init; } = 2;
    public int Vocab { get; init; } = 40;
    public double Eps { get; init; } = 1e-5;
    public double Theta { get; init; } = 10000;
    public int MaxPositions { get; init; } = 64;
    public JsonObject? RopeScaling { get; init; }
    public bool QkvBias { get; init; }
    /// <summary>Llama's attention_bias and mlp_bias: biases on every projection (QkvBias must be set too).</summary>
    public bool AllBiases { get; init; }
    public bool Tied { get; init; }
    public int? SlidingWindow { get; init; }
    /// <summary>Experts per mixture layer; 0 for a dense decoder. Mixtral's experts are Intermediate wide.</summary>
    public int Experts { get; init; }
    public int TopK { get; init; } = 2;
    /// <summary>Qwen2-MoE: each routed expert's width (moe_intermediate_size) and the shared expert's.</summary>
    public int ExpertIntermediate { get; init; } = 24;
    public int SharedIntermediate { get; init; } = 40;
    public bool NormTopK { get; init; }
    /// <summary>Qwen2-MoE layers with a dense MLP instead (mlp_only_layers).</summary>
    public int[] DenseLayers { get; init; } = [];
    public bool IsMixtral => Architecture == "MixtralForCausalLM";
    public bool IsQwen2Moe => Architecture == "Qwen2MoeForCausalLM";
    public bool IsSparse(int layer) => Experts > 0 && !DenseLayers.Contains(layer);
    public bool IsGemma => Architecture == "GemmaForCausalLM";
    public bool IsPhi3 => Architecture == "Phi3ForCausalLM";
}

/// <summary>A tiny decoder with seeded random weights, kept as float arrays so a test can run it by hand.</summary>
public sealed class TinyDecoder
{
    public TinyDecoderShape Shape { get; }

    public Dictionary<string, (long[] Shape, float[] Values)> Weights { get; } = new(StringComparer.Ordinal);

    public TinyDecoder(TinyDecoderShape shape, int seed)
    {
        Shape = shape;
        var s = shape;
        var rng = new Random(seed);
        void Add(string name, long[] dims, double scale, double center = 0)
        {
            long n = dims.Aggregate(1L, (a, b) => a * b);
            var v = new float[n];
            for (long i = 0; i < n; i++)
                v[i] = (float)(center + (rng.NextDouble() * 2 - 1) * scale);
            Weights[name] = (dims, v);
        }
        // Large enough that attention and logits are far from uniform, so a wrong mask or rotation shows.
        Add("model.embed_tokens.weight", [s.Vocab, s.Hidden], 1.0);
        for (int i = 0; i < s.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            Add(p + "input_layernorm.weight", [s.Hidden], 0.2, 1.0);
            Add(p + "self_attn.q_proj.weight", [s.Heads * s.HeadDim, s.Hidden], 0.4);
            Add(p + "self_attn.k_proj.weight", [s.KvHeads * s.HeadDim, s.Hidden], 0.4);
            Add(p + "self_attn.v_proj.weight", [s.KvHeads * s.HeadDim, s.Hidden], 0.4);
            if (s.QkvBias)
            {
                Add(p + "self_attn.q_proj.bias", [s.Heads * s.HeadDim], 0.3);
                Add(p + "self_attn.k_proj.bias", [s.KvHeads * s.HeadDim], 0.3);
                Add(p + "self_attn.v_proj.bias", [s.KvHeads * s.HeadDim], 0.3);
            }
            Add(p + "self_attn.o_proj.weight", [s.Hidden, s.Heads * s.HeadDim], 0.3);
            if (s.AllBiases)
            {
                Add(p + "self_attn.o_proj.bias", [s.Hidden], 0.3);
                Add(p + "mlp.gate_proj.bias", [s.Intermediate], 0.3);
                Add(p + "mlp.up_proj.bias", [s.Intermediate], 0.3);
                Add(p + "mlp.down_proj.bias", [s.Hidden], 0.3);
            }
            Add(p + "post_attention_layernorm.weight", [s.Hidden], 0.2, 1.0);
            if (s.IsSparse(i))
            {
                AddMixture(p, Add);
                continue;
            }
            Add(p + "mlp.gate_proj.weight", [s.Intermediate, s.Hidden], 0.3);
            Add(p + "mlp.up_proj.weight", [s.Intermediate, s.Hidden], 0.3);
            Add(p + "mlp.down_proj.weight", [s.Hidden, s.Intermediate], 0.3);
        }
        Add("model.norm.weight", [s.Hidden], 0.2, 1.0);
        if (!s.Tied)
            Add("lm_head.weight", [s.Vocab, s.Hidden], 0.5);
    }

    // A router with large weights, so the top-k choice is decisive and differs from token to token.
    private void AddMixture(string p, Action<string, long[], double, double> add)
    {
        var s = Shape;
        string block = s.IsMixtral ? "block_sparse_moe" : "mlp";
        int width = s.IsMixtral ? s.Intermediate : s.ExpertIntermediate;
        add(p + block + ".gate.weight", [s.Experts, s.Hidden], 0.8, 0);
        for (int e = 0; e < s.Experts; e++)
        {
            string x = $"{p}{block}.experts.{e}.";
            var (gate, up, down) = s.IsMixtral ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj");
            add(x + gate + ".weight", [width, s.Hidden], 0.3, 0);
            add(x + up + ".weight", [width, s.Hidden], 0.3, 0);
            add(x + down + ".weight", [s.Hidden, width], 0.3, 0);
        }
        if (s.IsQwen2Moe)
        {
            add(p + "mlp.shared_expert.gate_proj.weight", [s.SharedIntermediate, s.Hidden], 0.3, 0);
            add(p + "mlp.shared_expert.up_proj.weight", [s.SharedIntermediate, s.Hidden], 0.3, 0);
            add(p + "mlp.shared_expert.down_proj.weight", [s.Hidden, s.SharedIntermediate], 0.3, 0);
            add(p + "mlp.shared_expert_gate.weight", [1, s.Hidden], 0.5, 0);
        }
    }

    /// <summary>
    /// transformers 5's fused layout of a mixture's expert tensors: per layer mlp.experts.gate_up_proj [E, 2I, H]
    /// (each expert's gate rows, then its up rows), mlp.experts.down_proj [E, H, I], Mixtral's router as mlp.gate.
    /// </summary>
    public Dictionary<string, (long[] Shape, float[] Values)> FusedExperts()
    {
        var s = Shape;
        string block = s.IsMixtral ? "block_sparse_moe" : "mlp";
        var (gate, up, down) = s.IsMixtral ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj");
        var result = new Dictionary<string, (long[] Shape, float[] Values)>(StringComparer.Ordinal);
        foreach (var (name, w) in Weights)
        {
            if (!name.Contains($".{block}.experts.", StringComparison.Ordinal) && !name.Contains($".{block}.gate.", StringComparison.Ordinal))
                result[name] = w;
        }
        for (int i = 0; i < s.Layers; i++)
        {
            if (!s.IsSparse(i))
                continue;
            string p = $"model.layers.{i}.{block}.";
            string q = $"model.layers.{i}.mlp.";
            result[q + "gate.weight"] = Weights[p + "gate.weight"];
            var gateUp = Enumerable.Range(0, s.Experts).SelectMany(e => Weights[$"{p}experts.{e}.{gate}.weight"].Values.Concat(Weights[$"{p}experts.{e}.{up}.weight"].Values)).ToArray();
            var first = Weights[$"{p}experts.0.{gate}.weight"].Shape;
            result[q + "experts.gate_up_proj"] = ([s.Experts, 2 * first[0], first[1]], gateUp);
            var downs = Enumerable.Range(0, s.Experts).SelectMany(e => Weights[$"{p}experts.{e}.{down}.weight"].Values).ToArray();
            var d = Weights[$"{p}experts.0.{down}.weight"].Shape;
            result[q + "experts.down_proj"] = ([s.Experts, d[0], d[1]], downs);
        }
        return result;
    }

    public JsonObject Config()
    {
        var s = Shape;
        var c = new JsonObject
        {
            ["architectures"] = new JsonArray(s.Architecture),
            ["model_type"] = s.ModelType,
            ["hidden_size"] = s.Hidden,
            ["intermediate_size"] = s.Intermediate,
            ["num_hidden_layers"] = s.Layers,
            ["num_attention_heads"] = s.Heads,
            ["num_key_value_heads"] = s.KvHeads,
            ["head_dim"] = s.HeadDim,
            ["vocab_size"] = s.Vocab,
            ["rms_norm_eps"] = s.Eps,
            ["rope_theta"] = s.Theta,
            ["max_position_embeddings"] = s.MaxPositions,
            ["tie_word_embeddings"] = s.Tied,
            ["hidden_act"] = "silu",
            ["rope_scaling"] = s.RopeScaling?.DeepClone(),
        };
        if (s.Architecture is "MistralForCausalLM" or "Phi3ForCausalLM")
            c["sliding_window"] = s.SlidingWindow;
        if (s.IsMixtral)
        {
            c["num_local_experts"] = s.Experts;
            c["num_experts_per_tok"] = s.TopK;
        }
        if (s.IsQwen2Moe)
        {
            c["num_experts"] = s.Experts;
            c["num_experts_per_tok"] = s.TopK;
            c["moe_intermediate_size"] = s.ExpertIntermediate;
            c["shared_expert_intermediate_size"] = s.SharedIntermediate;
            c["norm_topk_prob"] = s.NormTopK;
            c["decoder_sparse_step"] = 1;
            c["mlp_only_layers"] = new JsonArray(s.DenseLayers.Select(l => (JsonNode)l).ToArray());
            c["qkv_bias"] = s.QkvBias;
            c["use_sliding_window"] = false;
        }
        if (s.AllBiases)
        {
            c["attention_bias"] = true;
            c["mlp_bias"] = true;
        }
        if (s.IsGemma)
        {
            // As gemma-2b's config.json reads: hidden_act says gelu, the model runs the tanh approximation.
            c["hidden_act"] = "gelu";
            c["hidden_activation"] = "gelu_pytorch_tanh";
        }
        return c;
    }

    /// <summary>Writes config.json and model.safetensors; <paramref name="edit"/> may change the config or the tensor list first.</summary>
    public string Write(string dir, SafetensorsDType dtype = SafetensorsDType.F32, Action<JsonObject, Dictionary<string, (long[] Shape, float[] Values)>>? edit = null)
    {
        var config = Config();
        var weights = Shape.IsPhi3 ? Fused() : new Dictionary<string, (long[] Shape, float[] Values)>(Weights, StringComparer.Ordinal);
        edit?.Invoke(config, weights);
        var model = new TinyModel();
        foreach (var (name, (shape, values)) in weights)
            model.Add(name, shape, values, dtype);
        model.Config.Clear();
        foreach (var (k, v) in config)
            model.Config[k] = v?.DeepClone();
        return model.Write(dir);
    }

    /// <summary>
    /// Phi-3's checkpoint layout of the same weights: q, k, v rows stacked into qkv_proj, gate then up rows into
    /// gate_up_proj. The reference keeps them apart, so a test also checks how the fused tensors are split.
    /// </summary>
    public Dictionary<string, (long[] Shape, float[] Values)> Fused()
    {
        var result = new Dictionary<string, (long[] Shape, float[] Values)>(StringComparer.Ordinal);
        foreach (var (name, w) in Weights)
        {
            if (name.Contains(".self_attn.q_proj.", StringComparison.Ordinal))
                result[name.Replace("q_proj", "qkv_proj", StringComparison.Ordinal)] = Stack(name, name.Replace("q_proj", "k_proj", StringComparison.Ordinal), name.Replace("q_proj", "v_proj", StringComparison.Ordinal));
            else if (name.Contains(".mlp.gate_proj.", StringComparison.Ordinal))
                result[name.Replace("gate_proj", "gate_up_proj", StringComparison.Ordinal)] = Stack(name, name.Replace("gate_proj", "up_proj", StringComparison.Ordinal));
            else if (!name.Contains("k_proj", StringComparison.Ordinal) && !name.Contains("v_proj", StringComparison.Ordinal) && !name.Contains(".up_proj", StringComparison.Ordinal))
                result[name] = w;
        }
        return result;
    }

    private (long[] Shape, float[] Values) Stack(params string[] names)
    {
        var parts = names.Select(n => Weights[n]).ToList();
        long[] shape = [.. parts[0].Shape];
        shape[0] = parts.Sum(p => p.Shape[0]);
        return (shape, parts.SelectMany(p => p.Values).ToArray());
    }
}
