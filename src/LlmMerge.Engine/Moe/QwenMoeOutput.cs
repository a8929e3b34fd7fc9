using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Moe;

/// <summary>
/// mergekit-moe's Qwen MoE output (mergekit/moe/qwen.py at a6e40288): a <c>Qwen2MoeForCausalLM</c> from Qwen2, Llama
/// or Mistral inputs with exactly one shared expert. Each routed expert E's MLP goes to <c>mlp.experts.E.*</c>, the
/// shared expert's to <c>mlp.shared_expert.*</c>, its gate vector to <c>mlp.shared_expert_gate</c> ([1, hidden]);
/// q/k/v biases a Llama or Mistral base lacks are written as zeros, as mergekit does, since Qwen2-MoE has them.
/// </summary>
internal sealed class QwenMoeOutput : IMoeOutput
{
    public string Name => "Qwen MoE";

    public string Architecture => "Qwen2MoeForCausalLM";

    public string? WhyNot(MoeInputs inputs)
    {
        var recipe = inputs.Recipe;
        int shared = recipe.SharedExperts?.Count ?? 0;
        if (shared != 1)
            return $"shared_experts: Qwen MoE output needs exactly one shared expert, the recipe has {shared}";
        var sharedExpert = recipe.SharedExperts![0];
        if (recipe.GateMode != "random" && sharedExpert.PositivePrompts is not { Count: > 0 })
            return $"{sharedExpert.Describe(true)}: positive_prompts is required for Qwen MoE's shared_expert_gate with gate_mode {recipe.GateMode}";
        if (inputs.BaseType is not ("llama" or "mistral" or "qwen2"))
            return $"base_model '{recipe.BaseModel}' is a {inputs.BaseType} model; Qwen MoE output takes Qwen2, Llama or Mistral models";
        foreach (var (def, source, isShared) in inputs.AllExperts())
        {
            string type = MoeInputs.ModelType(source);
            if (type != inputs.BaseType)
                return $"{def.Describe(isShared)}: source_model is a {type} model, the base is {inputs.BaseType}; Qwen MoE requires all input models to have the same architecture";
        }
        var c = inputs.BaseConfig;
        if (c.OutputBias || c.MlpBias)
            return $"base_model '{recipe.BaseModel}' has o_proj or MLP biases (attention_bias / mlp_bias), which Qwen2-MoE has no place for";
        if (c.HeadDim * c.NumAttentionHeads != c.HiddenSize)
            return $"base_model '{recipe.BaseModel}' has head_dim {c.HeadDim} with {c.NumAttentionHeads} heads and hidden_size {c.HiddenSize}; Qwen2-MoE's attention takes head_dim = hidden_size / num_attention_heads";
        return null;
    }

    public JsonObject Config(MoeInputs inputs, string? torchDtype)
    {
        var json = MoeConfigJson.FromBase(inputs);
        int intermediate = inputs.BaseConfig.IntermediateSize;
        json["architectures"] = new JsonArray("Qwen2MoeForCausalLM");
        json["model_type"] = "qwen2_moe";
        json["num_experts"] = inputs.Recipe.Experts.Count;
        json["num_experts_per_tok"] = inputs.Recipe.ExpertsPerToken;
        json["decoder_sparse_step"] = 1;
        json["norm_topk_prob"] = true;
        json["sliding_window"] = null;
        json["use_sliding_window"] = false;
        json["shared_expert_intermediate_size"] = intermediate;
        json["moe_intermediate_size"] = intermediate;
        json["mlp_only_layers"] = new JsonArray();
        json["qkv_bias"] = true;
        json["router_aux_loss_coef"] = 0.001;
        json["output_router_logits"] = false;
        json.Remove("attention_bias");
        json.Remove("mlp_bias");
        MoeConfigJson.SetDType(json, torchDtype);
        return json;
    }

    public IEnumerable<OutputTensor> Tensors(MoeInputs inputs, MoeTensorReader reader, Tensor gates)
    {
        var b = inputs.Base;
        var c = inputs.BaseConfig;
        var sharedSource = inputs.Shared[0];
        var sharedDef = inputs.SharedDefinitions[0];
        int experts = inputs.Experts.Count;
        OutputTensor Copy(string name) => new(inputs.RequireBase(name), b.GetInfo(name).Shape, reader.OutDType(b, name), () => reader.Read(b, name));

        // qwen2.json's order: embeddings; per layer its weights sorted by name (each MLP weight for every expert,
        // then the shared expert); final norm and head (optional).
        yield return Copy("model.embed_tokens.weight");
        for (int i = 0; i < inputs.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            yield return Copy(p + "input_layernorm.weight");
            foreach (string proj in new[] { "down_proj", "gate_proj", "up_proj" })
            {
                string name = $"{p}mlp.{proj}.weight";
                bool residual = proj == "down_proj";
                for (int e = 0; e < experts; e++)
                {
                    var source = inputs.Experts[e];
                    var def = inputs.Recipe.Experts[e];
                    yield return new OutputTensor($"{p}mlp.experts.{e}.{proj}.weight", source.GetInfo(name).Shape, reader.OutDType(source, name), () => reader.Read(source, name, def, residual));
                }
                yield return new OutputTensor($"{p}mlp.shared_expert.{proj}.weight", sharedSource.GetInfo(name).Shape, reader.OutDType(sharedSource, name), () => reader.Read(sharedSource, name, sharedDef, residual));
            }
            yield return Copy(p + "post_attention_layernorm.weight");
            foreach (string w in new[] { "k_proj.bias", "k_proj.weight", "o_proj.weight", "q_proj.bias", "q_proj.weight", "v_proj.bias", "v_proj.weight" })
            {
                string name = $"{p}self_attn.{w}";
                if (b.Contains(name) || !w.EndsWith(".bias", StringComparison.Ordinal))
                {
                    yield return Copy(name);
                    continue;
                }
                // Qwen2-MoE wants attention biases: zeros of head_dim = hidden / heads per head, as mergekit writes them.
                long heads = w.StartsWith("q_", StringComparison.Ordinal) ? c.NumAttentionHeads : c.NumKeyValueHeads;
                long size = heads * (c.HiddenSize / c.NumAttentionHeads);
                yield return new OutputTensor(name, [size], reader.ComputedDType, () => zeros(size, ScalarType.Float32));
            }
        }
        yield return Copy("model.norm.weight");
        if (b.Contains("lm_head.weight"))
            yield return Copy("lm_head.weight");

        for (int i = 0; i < inputs.Layers; i++)
        {
            int layer = i;
            yield return new OutputTensor($"model.layers.{i}.mlp.gate.weight", [experts, c.HiddenSize], reader.ComputedDType, () => gates[layer].narrow(0, 0, experts));
            yield return new OutputTensor($"model.layers.{i}.mlp.shared_expert_gate.weight", [1, c.HiddenSize], reader.ComputedDType, () => gates[layer].narrow(0, experts, 1));
        }
    }
}
