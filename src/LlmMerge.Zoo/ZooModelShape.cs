using System.Text.Json.Nodes;

namespace LlmMerge.Zoo;

/// <summary>The zoo's Llama configuration: small enough to train on two CPU cores in minutes, with grouped-query attention.</summary>
public static class ZooModelShape
{
    public const int MaxPositions = 128;

    public static JsonObject Config(int vocabSize, int eosId, int hidden = 128, int layers = 4, int heads = 4, int kvHeads = 2, int intermediate = 352) => new()
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"),
        ["model_type"] = "llama",
        ["hidden_size"] = hidden,
        ["intermediate_size"] = intermediate,
        ["num_hidden_layers"] = layers,
        ["num_attention_heads"] = heads,
        ["num_key_value_heads"] = kvHeads,
        ["head_dim"] = hidden / heads,
        ["hidden_act"] = "silu",
        ["max_position_embeddings"] = MaxPositions,
        ["rms_norm_eps"] = 1e-5,
        ["rope_theta"] = 10000.0,
        ["tie_word_embeddings"] = false,
        ["attention_bias"] = false,
        ["vocab_size"] = vocabSize,
        ["bos_token_id"] = eosId,
        ["eos_token_id"] = eosId,
        ["torch_dtype"] = "bfloat16",
    };
}
