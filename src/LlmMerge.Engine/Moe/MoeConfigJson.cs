using System.Text.Json.Nodes;

namespace LlmMerge.Engine.Moe;

/// <summary>The part of a mixture's config.json that comes from its base.</summary>
internal static class MoeConfigJson
{
    /// <summary>
    /// The base's config.json with the shape the forward pass read from it spelled out: mergekit builds the output
    /// config from the base config's to_dict(), which holds every attribute, class defaults included, so a key the
    /// base's file leaves to its class default (Llama's rope_theta 10000) must not fall to the mixture class's default.
    /// </summary>
    public static JsonObject FromBase(MoeInputs inputs)
    {
        var json = (JsonObject)inputs.Base.Config!.Json.DeepClone();
        var c = inputs.BaseConfig;
        json["hidden_size"] = c.HiddenSize;
        json["intermediate_size"] = c.IntermediateSize;
        json["num_hidden_layers"] = c.NumHiddenLayers;
        json["num_attention_heads"] = c.NumAttentionHeads;
        json["num_key_value_heads"] = c.NumKeyValueHeads;
        json["head_dim"] = c.HeadDim;
        json["vocab_size"] = c.VocabSize;
        json["rms_norm_eps"] = c.RmsNormEps;
        json["max_position_embeddings"] = c.MaxPositionEmbeddings;
        json["tie_word_embeddings"] = c.TieWordEmbeddings;
        json["hidden_act"] = c.HiddenAct;
        if (json["rope_parameters"] is null)
            json["rope_theta"] = c.RopeTheta;
        // Sliding attention is off in both outputs (mergekit sets sliding_window None); the base's layer pattern goes with it.
        json.Remove("layer_types");
        json.Remove("use_sliding_window");
        json.Remove("max_window_layers");
        return json;
    }

    /// <summary>The output dtype as config.json's torch_dtype; the base's stays where none was resolved.</summary>
    public static void SetDType(JsonObject json, string? torchDtype)
    {
        if (torchDtype is null)
            return;
        json.Remove("dtype");
        json["torch_dtype"] = torchDtype;
    }
}
