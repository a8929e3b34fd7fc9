using System.Text.Json.Nodes;
using LlmMerge.Core;

namespace LlmMerge.Modeling.Moe;

/// <summary>Where a mixture's tensors live in a checkpoint: Mixtral's <c>block_sparse_moe</c> or Qwen2-MoE's <c>mlp</c>.</summary>
public enum MoeLayout
{
    /// <summary><c>block_sparse_moe.gate</c>, <c>block_sparse_moe.experts.E.w1|w2|w3</c>; top-k weights always renormalized.</summary>
    Mixtral,

    /// <summary><c>mlp.gate</c>, <c>mlp.experts.E.gate_proj|up_proj|down_proj</c>, <c>mlp.shared_expert</c> and <c>mlp.shared_expert_gate</c>.</summary>
    Qwen2Moe,
}

/// <summary>
/// The mixture-of-experts part of a decoder's config (transformers' MixtralConfig and Qwen2MoeConfig fields, their
/// defaults filled in): how many experts, how many each token uses, their width, and which layers are sparse.
/// </summary>
public sealed record MoeShape
{
    public required MoeLayout Layout { get; init; }

    /// <summary><c>num_local_experts</c> (Mixtral) or <c>num_experts</c> (Qwen2-MoE).</summary>
    public required int NumExperts { get; init; }

    /// <summary><c>num_experts_per_tok</c>: the k of the router's top-k.</summary>
    public required int ExpertsPerToken { get; init; }

    /// <summary>Each routed expert's intermediate size (Mixtral: intermediate_size; Qwen2-MoE: moe_intermediate_size).</summary>
    public required int ExpertIntermediateSize { get; init; }

    /// <summary>Whether the k routing weights are divided by their sum (Mixtral always; Qwen2-MoE's norm_topk_prob).</summary>
    public bool NormTopKProb { get; init; } = true;

    /// <summary>Qwen2-MoE's shared expert width (shared_expert_intermediate_size); 0 where there is none (Mixtral).</summary>
    public int SharedExpertIntermediateSize { get; init; }

    /// <summary>Per layer, whether it is a mixture (Qwen2-MoE's decoder_sparse_step and mlp_only_layers; Mixtral: all).</summary>
    public required IReadOnlyList<bool> SparseLayers { get; init; }

    public bool IsSparse(int layer) => layer < SparseLayers.Count && SparseLayers[layer];

    /// <summary>The layer's module name for the mixture: <c>block_sparse_moe</c> (Mixtral) or <c>mlp</c>.</summary>
    public string BlockName => Layout == MoeLayout.Mixtral ? "block_sparse_moe" : "mlp";

    public void Validate(string source)
    {
        if (NumExperts < 1)
            throw new LlmMergeException($"{source}: {ExpertsKey} must be at least 1 (got {NumExperts})");
        if (ExpertsPerToken < 1 || ExpertsPerToken > NumExperts)
            throw new LlmMergeException($"{source}: num_experts_per_tok ({ExpertsPerToken}) must be between 1 and {ExpertsKey} ({NumExperts})");
        if (ExpertIntermediateSize < 1)
            throw new LlmMergeException($"{source}: {(Layout == MoeLayout.Mixtral ? "intermediate_size" : "moe_intermediate_size")} must be positive");
        if (Layout == MoeLayout.Qwen2Moe && SharedExpertIntermediateSize < 1)
            throw new LlmMergeException($"{source}: shared_expert_intermediate_size must be positive; Qwen2-MoE layers always have a shared expert");
    }

    private string ExpertsKey => Layout == MoeLayout.Mixtral ? "num_local_experts" : "num_experts";

    /// <summary>The mixture fields of a Mixtral or Qwen2-MoE config.json, with transformers' defaults; null for other architectures.</summary>
    internal static MoeShape? FromJson(JsonObject json, string architecture, int layers, int intermediateSize, string source)
    {
        if (architecture == "MixtralForCausalLM")
        {
            return new MoeShape
            {
                Layout = MoeLayout.Mixtral,
                NumExperts = CausalLmConfig.Int(json, "num_local_experts") ?? 8,
                ExpertsPerToken = CausalLmConfig.Int(json, "num_experts_per_tok") ?? 2,
                ExpertIntermediateSize = intermediateSize,
                SparseLayers = Enumerable.Repeat(true, layers).ToArray(),
            };
        }
        if (architecture != "Qwen2MoeForCausalLM")
            return null;
        int experts = CausalLmConfig.Int(json, "num_experts") ?? 60;
        int step = CausalLmConfig.Int(json, "decoder_sparse_step") ?? 1;
        if (step < 1)
            throw new LlmMergeException($"{source}: decoder_sparse_step must be at least 1 (got {step})");
        var denseOnly = new HashSet<int>();
        if (json["mlp_only_layers"] is JsonArray only)
        {
            foreach (var n in only)
                denseOnly.Add(n is JsonValue v && v.TryGetValue(out int i) ? i : throw new LlmMergeException($"{source}: mlp_only_layers must list layer indices"));
        }
        // Qwen2MoeDecoderLayer: a mixture unless listed in mlp_only_layers, where experts exist and (i + 1) % step == 0.
        var sparse = Enumerable.Range(0, layers).Select(i => !denseOnly.Contains(i) && experts > 0 && (i + 1) % step == 0).ToArray();
        return new MoeShape
        {
            Layout = MoeLayout.Qwen2Moe,
            NumExperts = experts,
            ExpertsPerToken = CausalLmConfig.Int(json, "num_experts_per_tok") ?? 4,
            ExpertIntermediateSize = CausalLmConfig.Int(json, "moe_intermediate_size") ?? 1408,
            NormTopKProb = CausalLmConfig.Bool(json, "norm_topk_prob") ?? false,
            SharedExpertIntermediateSize = CausalLmConfig.Int(json, "shared_expert_intermediate_size") ?? 5632,
            SparseLayers = sparse,
        };
    }

    /// <summary>Writes these fields into a config.json as transformers names them.</summary>
    internal void WriteJson(JsonObject json)
    {
        if (Layout == MoeLayout.Mixtral)
        {
            json["num_local_experts"] = NumExperts;
            json["num_experts_per_tok"] = ExpertsPerToken;
            return;
        }
        json["num_experts"] = NumExperts;
        json["num_experts_per_tok"] = ExpertsPerToken;
        json["moe_intermediate_size"] = ExpertIntermediateSize;
        json["shared_expert_intermediate_size"] = SharedExpertIntermediateSize;
        json["norm_topk_prob"] = NormTopKProb;
        // One spelling for any pattern of sparse layers: every step sparse, the dense ones listed.
        json["decoder_sparse_step"] = 1;
        json["mlp_only_layers"] = new JsonArray(Enumerable.Range(0, SparseLayers.Count).Where(i => !SparseLayers[i]).Select(i => (JsonNode)i).ToArray());
    }
}
