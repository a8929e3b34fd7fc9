using LlmMerge.Core;
using LlmMerge.Core.Models;
using LlmMerge.Modeling.Moe;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>The architectures the forward pass implements, by config.json's <c>architectures</c> name.</summary>
public static class CausalLmArchitectures
{
    private static readonly Dictionary<string, Func<CausalLmConfig, Device, ScalarType, DecoderForCausalLM>> Factories = new(StringComparer.Ordinal)
    {
        ["LlamaForCausalLM"] = (c, d, t) => new LlamaForCausalLM(c, d, t),
        ["MistralForCausalLM"] = (c, d, t) => new MistralForCausalLM(c, d, t),
        ["Qwen2ForCausalLM"] = (c, d, t) => new Qwen2ForCausalLM(c, d, t),
        ["GemmaForCausalLM"] = (c, d, t) => new GemmaForCausalLM(c, d, t),
        ["Phi3ForCausalLM"] = (c, d, t) => new Phi3ForCausalLM(c, d, t),
        ["MixtralForCausalLM"] = (c, d, t) => new MixtralForCausalLM(c, d, t),
        ["Qwen2MoeForCausalLM"] = (c, d, t) => new Qwen2MoeForCausalLM(c, d, t),
    };

    // For configs without an architectures list, as some hand-written ones are.
    private static readonly Dictionary<string, string> ByModelType = new(StringComparer.Ordinal)
    {
        ["llama"] = "LlamaForCausalLM",
        ["mistral"] = "MistralForCausalLM",
        ["qwen2"] = "Qwen2ForCausalLM",
        ["gemma"] = "GemmaForCausalLM",
        ["phi3"] = "Phi3ForCausalLM",
        ["mixtral"] = "MixtralForCausalLM",
        ["qwen2_moe"] = "Qwen2MoeForCausalLM",
    };

    public static IReadOnlyCollection<string> Supported => Factories.Keys;

    /// <summary>Reads a model folder's config; an architecture we do not implement is an error that lists the ones we do.</summary>
    public static CausalLmConfig ReadConfig(ModelConfig config)
    {
        string source = config.Path ?? "config.json";
        string? arch = config.Architecture ?? (config.ModelType is string t && ByModelType.TryGetValue(t, out var a) ? a : null);
        if (arch is null || !Factories.ContainsKey(arch))
        {
            string what = arch ?? config.ModelType ?? "(none given)";
            throw new LlmMergeException($"{source}: architecture '{what}' is not supported by the evaluation forward pass; supported: {string.Join(", ", Supported)}");
        }
        return CausalLmConfig.FromJson(config.Json, arch, source);
    }

    /// <summary>A model of the config's architecture with uninitialised weights (load them, or call InitializeWeights).</summary>
    public static DecoderForCausalLM Create(CausalLmConfig config, Device device, ScalarType dtype)
    {
        if (!Factories.TryGetValue(config.Architecture, out var make))
            throw new LlmMergeException($"architecture '{config.Architecture}' is not supported; supported: {string.Join(", ", Supported)}");
        return make(config, device, dtype);
    }
}
