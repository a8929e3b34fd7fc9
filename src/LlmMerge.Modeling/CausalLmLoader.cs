using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using LlmMerge.Modeling.Sources;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>Loads a Hugging Face causal-LM folder (config.json + safetensors or PyTorch .bin weights) into the TorchSharp forward pass.</summary>
public static class CausalLmLoader
{
    /// <summary>Loads <paramref name="modelDir"/> (a model folder, a PEFT LoRA adapter folder naming its base, or BASE+ADAPTER) on <paramref name="device"/> (cpu, cuda, cuda:N), computing in <paramref name="dtype"/> (float32, bfloat16, float16).</summary>
    public static ICausalLanguageModel Load(string modelDir, string device = "cpu", string dtype = "float32") =>
        LoadModel(modelDir, device, dtype);

    /// <summary>As <see cref="Load"/>, returning the concrete type, whose module tree callers can reach.</summary>
    public static TorchCausalLanguageModel LoadModel(string modelDir, string device = "cpu", string dtype = "float32")
    {
        var computeType = ParseDType(dtype);
        var dev = TorchRuntime.ResolveDevice(device);
        using var resolver = new ModelResolver([Directory.GetCurrentDirectory()]);
        var source = resolver.Source(ModelReference.Parse(modelDir));
        var modelConfig = source.Config ?? throw new LlmMergeException($"{source.Directory}: no config.json; the forward pass needs the model's shape from it");
        var config = CausalLmArchitectures.ReadConfig(modelConfig);
        var model = CausalLmArchitectures.Create(config, dev, computeType);
        try
        {
            CausalLmWeights.Load(model, source);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new TorchCausalLanguageModel(model);
    }

    private static ScalarType ParseDType(string dtype) => dtype.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" or "float" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" or "half" => ScalarType.Float16,
        _ => throw new LlmMergeException($"dtype '{dtype}' is not supported for evaluation; use float32, bfloat16 or float16"),
    };
}
