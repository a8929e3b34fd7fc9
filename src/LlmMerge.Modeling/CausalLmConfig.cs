using System.Text.Json.Nodes;
using LlmMerge.Core;
using LlmMerge.Modeling.Moe;

namespace LlmMerge.Modeling;

/// <summary>How rotary frequencies are rescaled for long contexts (config.json's <c>rope_scaling</c>).</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192);

/// <summary>
/// The decoder shape read from a model's config.json, with each architecture's transformers defaults filled in,
/// so the modules below never look at JSON and a training run can build a model from code alone.
/// </summary>
public sealed record CausalLmConfig
{
    public required string Architecture { get; init; }

    public required int HiddenSize { get; init; }

    public required int IntermediateSize { get; init; }

    public required int NumHiddenLayers { get; init; }

    public required int NumAttentionHeads { get; init; }

    public required int NumKeyValueHeads { get; init; }

    public required int HeadDim { get; init; }

    public required int VocabSize { get; init; }

    public double RmsNormEps { get; init; } = 1e-6;

    public double RopeTheta { get; init; } = 10000;

    public RopeScaling? RopeScaling { get; init; }

    public int MaxPositionEmbeddings { get; init; } = 2048;

    public bool TieWordEmbeddings { get; init; }

    /// <summary>Biases on q_proj, k_proj and v_proj (Qwen2 always; Llama when attention_bias).</summary>
    public bool QkvBias { get; init; }

    /// <summary>Bias on o_proj (Llama's attention_bias covers it; Qwen2 has none).</summary>
    public bool OutputBias { get; init; }

    /// <summary>Biases on gate_proj, up_proj and down_proj (Llama's mlp_bias).</summary>
    public bool MlpBias { get; init; }

    /// <summary>Keys further back than this many positions are invisible, on the layers <see cref="UsesSlidingWindow"/> names.</summary>
    public int? SlidingWindow { get; init; }

    /// <summary>Layers that attend through the sliding window (Mistral: all; Qwen2: from max_window_layers on).</summary>
    public IReadOnlyList<bool> SlidingLayers { get; init; } = [];

    /// <summary>The gate's activation: silu (Llama, Mistral, Qwen2), gelu_pytorch_tanh (Gemma) or gelu.</summary>
    public string HiddenAct { get; init; } = "silu";

    /// <summary>Gemma stores each RMSNorm weight as an offset from one: the scale is 1 + weight.</summary>
    public bool NormWeightPlusOne { get; init; }

    /// <summary>Gemma multiplies the token embeddings by sqrt(hidden_size) before the first layer.</summary>
    public bool ScaleEmbeddings { get; init; }

    /// <summary>Phi-3 fuses q, k, v into qkv_proj and gate, up into gate_up_proj.</summary>
    public bool FusedProjections { get; init; }

    /// <summary>Standard deviation of the normal initialisation a training run starts from (transformers' initializer_range).</summary>
    public double InitializerRange { get; init; } = 0.02;

    /// <summary>The mixture of experts of a Mixtral or Qwen2-MoE model; null for a dense decoder.</summary>
    public MoeShape? Moe { get; init; }

    public bool UsesSlidingWindow(int layer) => SlidingWindow is not null && layer < SlidingLayers.Count && SlidingLayers[layer];

    /// <summary>Checks the numbers fit together; <paramref name="source"/> names the config in the message.</summary>
    public void Validate(string source)
    {
        void Require(bool ok, string what)
        {
            if (!ok)
                throw new LlmMergeException($"{source}: {what}");
        }
        Require(HiddenSize > 0 && IntermediateSize > 0 && NumHiddenLayers >= 0 && VocabSize > 0, "hidden_size, intermediate_size and vocab_size must be positive and num_hidden_layers non-negative");
        Require(NumAttentionHeads > 0 && NumKeyValueHeads > 0, "num_attention_heads and num_key_value_heads must be positive");
        Require(NumAttentionHeads % NumKeyValueHeads == 0, $"num_attention_heads ({NumAttentionHeads}) is not a multiple of num_key_value_heads ({NumKeyValueHeads})");
        Require(HeadDim > 0 && HeadDim % 2 == 0, $"head_dim ({HeadDim}) must be positive and even for rotary embeddings");
        Require(MaxPositionEmbeddings > 0, "max_position_embeddings must be positive");
        Require(SlidingWindow is null or > 0, "sliding_window must be positive");
        Require(HiddenAct is "silu" or "gelu_pytorch_tanh" or "gelu", $"hidden_act '{HiddenAct}' is not supported; supported: silu, gelu_pytorch_tanh, gelu");
        Moe?.Validate(source);
    }

    /// <summary>
    /// config.json for this shape, as transformers writes it, so a model trained from code can be saved as a
    /// Hugging Face folder and read back (by us, or by transformers) with the same shape.
    /// </summary>
    public JsonObject ToJson()
    {
        string modelType = Architecture switch
        {
            "MistralForCausalLM" => "mistral",
            "Qwen2ForCausalLM" => "qwen2",
            "GemmaForCausalLM" => "gemma",
            "Phi3ForCausalLM" => "phi3",
            "MixtralForCausalLM" => "mixtral",
            "Qwen2MoeForCausalLM" => "qwen2_moe",
            _ => "llama",
        };
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(Architecture),
            ["model_type"] = modelType,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["vocab_size"] = VocabSize,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["hidden_act"] = HiddenAct,
            ["hidden_activation"] = Architecture == "GemmaForCausalLM" ? HiddenAct : null,
            ["initializer_range"] = InitializerRange,
            ["torch_dtype"] = "float32",
        };
        if (RopeScaling is { } r)
        {
            var scaling = new JsonObject { ["rope_type"] = r.Type, ["factor"] = r.Factor };
            if (r.Type == "llama3")
            {
                scaling["low_freq_factor"] = r.LowFreqFactor;
                scaling["high_freq_factor"] = r.HighFreqFactor;
                scaling["original_max_position_embeddings"] = r.OriginalMaxPositionEmbeddings;
            }
            json["rope_scaling"] = scaling;
        }
        if (Architecture is "LlamaForCausalLM" or "GemmaForCausalLM")
        {
            // One attention_bias covers q, k, v and o; a config with only some of them has no spelling here.
            if (QkvBias != OutputBias)
                throw new LlmMergeException($"{Architecture}: attention_bias sets q/k/v and o_proj biases together; this config has them differ");
            json["attention_bias"] = QkvBias;
        }
        if (Architecture == "LlamaForCausalLM")
            json["mlp_bias"] = MlpBias;
        if (Architecture is "MistralForCausalLM" or "Phi3ForCausalLM" or "MixtralForCausalLM")
            json["sliding_window"] = SlidingWindow;
        if (Architecture == "Qwen2MoeForCausalLM")
        {
            if (SlidingWindow is not null)
                throw new LlmMergeException($"{Architecture}: a sliding window has no spelling here; Qwen2-MoE is written without one");
            json["use_sliding_window"] = false;
            json["sliding_window"] = null;
            json["qkv_bias"] = QkvBias;
        }
        Moe?.WriteJson(json);
        if (Architecture == "Qwen2ForCausalLM")
        {
            json["use_sliding_window"] = SlidingWindow is not null;
            json["sliding_window"] = SlidingWindow;
            json["layer_types"] = new JsonArray(Enumerable.Range(0, NumHiddenLayers).Select(i => (JsonNode)(UsesSlidingWindow(i) ? "sliding_attention" : "full_attention")).ToArray());
        }
        return json;
    }

    /// <summary>
    /// Reads config.json for <paramref name="architecture"/>, taking transformers' default where a key is absent.
    /// </summary>
    internal static CausalLmConfig FromJson(JsonObject json, string architecture, string source)
    {
        int hidden = RequiredInt(json, "hidden_size", source);
        int heads = RequiredInt(json, "num_attention_heads", source);
        int layers = RequiredInt(json, "num_hidden_layers", source);
        bool isQwen2 = architecture == "Qwen2ForCausalLM";
        bool isMistral = architecture == "MistralForCausalLM";
        bool isGemma = architecture == "GemmaForCausalLM";
        bool isPhi3 = architecture == "Phi3ForCausalLM";
        bool isMixtral = architecture == "MixtralForCausalLM";
        bool isQwen2Moe = architecture == "Qwen2MoeForCausalLM";
        if (Double(json, "partial_rotary_factor") is double partial && partial != 1.0)
            throw new LlmMergeException($"{source}: partial_rotary_factor {partial} is not supported; rotary embeddings cover whole heads here");
        // Mistral and Phi-3 have no bias anywhere, whatever a config says; Llama and Gemma follow attention_bias.
        bool attentionBias = !isMistral && !isPhi3 && !isMixtral && !isQwen2Moe && (Bool(json, "attention_bias") ?? false);

        // Newer transformers write rope_theta and the scaling inside rope_parameters; older ones at the top level.
        var ropeParameters = json["rope_parameters"] as JsonObject;
        double ropeTheta = Double(json, "rope_theta") ?? (ropeParameters is null ? null : Double(ropeParameters, "rope_theta")) ?? (isMixtral ? 1e6 : 10000);
        var scaling = ParseRopeScaling(json["rope_scaling"] as JsonObject ?? ropeParameters, source);

        int? window = null;
        var sliding = new bool[layers];
        if (isMistral || (isPhi3 && Int(json, "sliding_window") is not null))
        {
            // MistralConfig's default is 4096; configs of v0.2 and later write null to turn it off.
            // Phi3Config's default is none, so Phi-3 only slides where its config says so.
            window = json.ContainsKey("sliding_window") ? Int(json, "sliding_window") : 4096;
            Array.Fill(sliding, true);
        }
        else if (isMixtral && Int(json, "sliding_window") is int mixtralWindow)
        {
            // MixtralConfig's default is none; where set, every layer slides, as Mistral's do.
            window = mixtralWindow;
            Array.Fill(sliding, true);
        }
        else if (isQwen2Moe && (Bool(json, "use_sliding_window") ?? false))
        {
            throw new LlmMergeException($"{source}: use_sliding_window is not supported for Qwen2MoeForCausalLM here; set it to false");
        }
        else if (isQwen2 && (Bool(json, "use_sliding_window") ?? false))
        {
            window = Int(json, "sliding_window") ?? 4096;
            int from = Int(json, "max_window_layers") ?? 28;
            for (int i = from; i < layers; i++)
                sliding[i] = true;
        }
        if (!isQwen2Moe && json["layer_types"] is JsonArray types && types.Count == layers)
        {
            for (int i = 0; i < layers; i++)
                sliding[i] = types[i]?.GetValue<string>() == "sliding_attention";
        }

        var config = new CausalLmConfig
        {
            Architecture = architecture,
            HiddenSize = hidden,
            IntermediateSize = RequiredInt(json, "intermediate_size", source),
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = Int(json, "num_key_value_heads") ?? heads,
            HeadDim = Int(json, "head_dim") ?? (isGemma ? 256 : heads > 0 ? hidden / heads : 0),
            VocabSize = RequiredInt(json, "vocab_size", source),
            RmsNormEps = Double(json, "rms_norm_eps") ?? (isMixtral ? 1e-5 : 1e-6),
            RopeTheta = ropeTheta,
            RopeScaling = scaling,
            MaxPositionEmbeddings = Int(json, "max_position_embeddings") ?? (isQwen2 || isQwen2Moe ? 32768 : isMistral || isMixtral ? 131072 : isGemma ? 8192 : isPhi3 ? 4096 : 2048),
            // transformers' PretrainedConfig default is true, and GemmaConfig keeps it; Llama, Mistral and Qwen2 set false.
            TieWordEmbeddings = Bool(json, "tie_word_embeddings") ?? isGemma,
            // Qwen2MoeConfig's qkv_bias defaults to true; Mixtral has no biases.
            QkvBias = isQwen2 || attentionBias || (isQwen2Moe && (Bool(json, "qkv_bias") ?? true)),
            OutputBias = !isQwen2 && attentionBias,
            MlpBias = architecture == "LlamaForCausalLM" && (Bool(json, "mlp_bias") ?? false),
            NormWeightPlusOne = isGemma,
            FusedProjections = isPhi3,
            ScaleEmbeddings = isGemma,
            SlidingWindow = window,
            SlidingLayers = sliding,
            HiddenAct = isGemma ? GemmaActivation(json) : String(json, "hidden_act") ?? "silu",
            InitializerRange = Double(json, "initializer_range") ?? 0.02,
            Moe = MoeShape.FromJson(json, architecture, layers, RequiredInt(json, "intermediate_size", source), source),
        };
        config.Validate(source);
        return config;
    }

    // Gemma's first configs say hidden_act "gelu", but the model was trained with the tanh approximation;
    // transformers reads hidden_activation and falls back to gelu_pytorch_tanh, whatever hidden_act says.
    private static string GemmaActivation(JsonObject json) => String(json, "hidden_activation") ?? "gelu_pytorch_tanh";

    private static string? String(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static RopeScaling? ParseRopeScaling(JsonObject? o, string source)
    {
        if (o is null)
            return null;
        string type = (o["rope_type"] ?? o["type"]) is JsonValue v && v.TryGetValue(out string? s) ? s : "default";
        switch (type)
        {
            case "default":
                return null;
            case "linear":
                return new RopeScaling("linear", RequiredDouble(o, "factor", source));
            case "llama3":
                return new RopeScaling(
                    "llama3",
                    RequiredDouble(o, "factor", source),
                    RequiredDouble(o, "low_freq_factor", source),
                    RequiredDouble(o, "high_freq_factor", source),
                    (int)RequiredDouble(o, "original_max_position_embeddings", source));
            default:
                throw new LlmMergeException($"{source}: rope_scaling type '{type}' is not supported; supported: default, linear, llama3");
        }
    }

    private static int RequiredInt(JsonObject o, string key, string source) =>
        Int(o, key) ?? throw new LlmMergeException($"{source}: '{key}' is missing or not an integer; a decoder config needs it");

    private static double RequiredDouble(JsonObject o, string key, string source) =>
        Double(o, key) ?? throw new LlmMergeException($"{source}: rope_scaling needs '{key}' (a number)");

    internal static int? Int(JsonObject o, string key) =>
        Double(o, key) is double d && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue ? (int)d : null;

    // A JsonValue built in code holds its CLR type (int, long, ...) and converts only to it; parsed ones convert freely.
    internal static double? Double(JsonObject o, string key) =>
        o[key] is not JsonValue v ? null
        : v.TryGetValue(out double d) ? d
        : v.TryGetValue(out int i) ? i
        : v.TryGetValue(out long l) ? l
        : v.TryGetValue(out float f) ? f
        : null;

    internal static bool? Bool(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue(out bool b) ? b : null;
}
