using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Moe;

/// <summary>
/// mergekit-moe's Mixtral output (mergekit/moe/mixtral.py at a6e40288) for Llama or Mistral inputs: attention, norms,
/// embeddings and head from the base, expert E's w1/w2/w3 from its model's gate_proj/down_proj/up_proj, the router
/// rows from the gate vectors. Written in the layout of the Hub's Mixtral checkpoints, which every runtime reads
/// (<c>block_sparse_moe.experts.E.w1</c>); mergekit's newest code writes transformers 5's fused form instead
/// (<c>mlp.experts.gate_up_proj</c>), which transformers 5 also makes from this layout on load.
/// </summary>
internal sealed class MixtralOutput : IMoeOutput
{
    // mixtral.py's loop: gate_proj → w1, down_proj → w2, up_proj → w3, in that order (noise is drawn in it).
    private static readonly (string From, string To)[] ExpertProjections = [("gate_proj", "w1"), ("down_proj", "w2"), ("up_proj", "w3")];

    public string Name => "Mixtral";

    public string Architecture => "MixtralForCausalLM";

    public string? WhyNot(MoeInputs inputs)
    {
        var recipe = inputs.Recipe;
        if (recipe.SharedExperts is { Count: > 0 } shared)
            return $"shared_experts: {shared[0].Describe(true)} cannot go into Mixtral output, which has no shared experts; remove shared_experts or set architecture: qwen";
        if (inputs.BaseType is not ("llama" or "mistral"))
            return $"base_model '{recipe.BaseModel}' is a {inputs.BaseType} model; Mixtral output takes Llama or Mistral models";
        foreach (var (def, source, isShared) in inputs.AllExperts())
        {
            string type = MoeInputs.ModelType(source);
            if (type != inputs.BaseType)
                return $"{def.Describe(isShared)}: source_model is a {type} model, the base is {inputs.BaseType}; Mixtral requires all input models to have the same architecture";
        }
        var c = inputs.BaseConfig;
        if (c.QkvBias || c.OutputBias || c.MlpBias)
            return $"base_model '{recipe.BaseModel}' has attention or MLP biases (attention_bias / mlp_bias), which Mixtral has no place for";
        return null;
    }

    public JsonObject Config(MoeInputs inputs, string? torchDtype)
    {
        // mergekit: MistralConfig(**base) with sliding_window None, then MixtralConfig(**that); to_dict writes every
        // attribute, so the base's values are spelled out where a default would differ between the classes.
        var json = MoeConfigJson.FromBase(inputs);
        json["architectures"] = new JsonArray("MixtralForCausalLM");
        json["model_type"] = "mixtral";
        json["num_local_experts"] = inputs.Recipe.Experts.Count;
        json["num_experts_per_tok"] = inputs.Recipe.ExpertsPerToken;
        json["sliding_window"] = null;
        json["router_aux_loss_coef"] = 0.001;
        json["router_jitter_noise"] = 0.0;
        json["output_router_logits"] = false;
        MoeConfigJson.SetDType(json, torchDtype);
        return json;
    }

    public IEnumerable<OutputTensor> Tensors(MoeInputs inputs, MoeTensorReader reader, Tensor gates)
    {
        var b = inputs.Base;
        var c = inputs.BaseConfig;
        OutputTensor Copy(string name) => new(inputs.RequireBase(name), b.GetInfo(name).Shape, reader.OutDType(b, name), () => reader.Read(b, name));

        // mistral.json's order: embeddings, each layer's attention and norms, final norm, head (optional).
        yield return Copy("model.embed_tokens.weight");
        for (int i = 0; i < inputs.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            foreach (string w in new[] { "input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm" })
                yield return Copy(p + w + ".weight");
        }
        yield return Copy("model.norm.weight");
        if (b.Contains("lm_head.weight"))
            yield return Copy("lm_head.weight");

        for (int i = 0; i < inputs.Layers; i++)
        {
            for (int e = 0; e < inputs.Experts.Count; e++)
            {
                var source = inputs.Experts[e];
                var def = inputs.Recipe.Experts[e];
                foreach (var (from, to) in ExpertProjections)
                {
                    string name = $"model.layers.{i}.mlp.{from}.weight";
                    bool residual = from == "down_proj";
                    yield return new OutputTensor($"model.layers.{i}.block_sparse_moe.experts.{e}.{to}.weight", source.GetInfo(name).Shape,
                        reader.OutDType(source, name), () => reader.Read(source, name, def, residual));
                }
            }
        }
        for (int i = 0; i < inputs.Layers; i++)
        {
            int layer = i;
            yield return new OutputTensor($"model.layers.{i}.block_sparse_moe.gate.weight", [inputs.Experts.Count, c.HiddenSize], reader.ComputedDType,
                () => gates[layer].narrow(0, 0, inputs.Experts.Count));
        }
    }
}
