using static TorchSharp.torch;

namespace LlmMerge.Modeling.Moe;

/// <summary>Mixtral (<c>MixtralForCausalLM</c>): Mistral's attention, each layer's MLP a <see cref="SparseMoeBlock"/> under <c>block_sparse_moe</c>.</summary>
public sealed class MixtralForCausalLM(CausalLmConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32)
    : DecoderForCausalLM(nameof(MixtralForCausalLM), config, device, dtype);

/// <summary>Qwen2-MoE (<c>Qwen2MoeForCausalLM</c>): Qwen2's attention (q/k/v biases per qkv_bias), routed experts and a gated shared expert under <c>mlp</c>.</summary>
public sealed class Qwen2MoeForCausalLM(CausalLmConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32)
    : DecoderForCausalLM(nameof(Qwen2MoeForCausalLM), config, device, dtype);
