using LlmMerge.Core;
using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling.Moe;
using LlmMerge.Modeling.Sources;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>Fills a model's parameters from a Hugging Face folder's weights (safetensors or PyTorch .bin), by name, checking every shape.</summary>
public static class CausalLmWeights
{
    /// <summary>
    /// Copies each parameter's tensor from <paramref name="folder"/> (bf16 widened to f32 on the way when the model
    /// computes in f32). Tensors the model does not use (a tied model's lm_head.weight, rotary buffers) are ignored.
    /// </summary>
    public static void Load(DecoderForCausalLM model, ModelFolder folder) =>
        Load(model, new FolderModelSource(new ModelReference(folder.Directory), folder));

    /// <summary>
    /// As <see cref="Load(DecoderForCausalLM, ModelFolder)"/> from any model source; a base with a LoRA adapter gets
    /// W + scale·B·A computed as each weight is read, so an adapter is evaluated without writing a merged copy.
    /// </summary>
    public static void Load(DecoderForCausalLM model, IModelSource source)
    {
        using var noGrad = no_grad();
        // transformers 5 saves a mixture's experts fused (mlp.experts.gate_up_proj); read them under the per-expert names.
        if (model.Config.Moe is not null)
            source = FusedExpertSource.Over(source);
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (!source.Contains(name))
            {
                var files = Directory.GetFiles(source.Directory).Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal) || TensorFiles.IsPyTorch(f))
                    .Select(Path.GetFileName).Order(StringComparer.Ordinal);
                throw new LlmMergeException(
                    $"{source.Directory}: weight '{name}' is missing (looked in {string.Join(", ", files)}); "
                    + $"{model.Config.Architecture} with this config.json needs it");
            }
            var info = source.GetInfo(name);
            string where = source is FolderModelSource f ? f.Folder.GetFile(name).Path : source.Reference.ToString();
            if (!info.Shape.AsSpan().SequenceEqual(parameter.shape))
            {
                throw new LlmMergeException(
                    $"{where}: tensor '{name}' has shape {info.ShapeText}, but config.json implies [{string.Join(", ", parameter.shape)}]; "
                    + "the config and the weights do not belong together");
            }
            if (info.DType is not (SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F64))
                throw new LlmMergeException($"{where}: tensor '{name}' is {info.DType}; a weight must be a floating-point tensor (quantised checkpoints are not supported)");
            using var loaded = source.Load(name, parameter.dtype, parameter.device);
            parameter.copy_(loaded);
        }
    }

    /// <summary>
    /// Writes the model as a Hugging Face folder: config.json and model.safetensors (shards with an index past
    /// <paramref name="maxShardBytes"/>), every parameter under its transformers name, in <paramref name="dtype"/>.
    /// </summary>
    public static void Save(DecoderForCausalLM model, string directory, ScalarType dtype = ScalarType.Float32, long maxShardBytes = ShardedModelWriter.DefaultShardBytes)
    {
        Directory.CreateDirectory(directory);
        var config = model.Config.ToJson();
        config["torch_dtype"] = dtype switch
        {
            ScalarType.BFloat16 => "bfloat16",
            ScalarType.Float16 => "float16",
            _ => "float32",
        };
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        var parameters = model.NamedParametersForSaving();
        var specs = parameters.Select(p => (p.Name, dtype.ToSafetensors(), p.Tensor.shape)).ToList();
        using var writer = new ShardedModelWriter(directory, specs, maxShardBytes);
        using var noGrad = no_grad();
        foreach (var (name, tensor) in parameters)
            TensorBridge.Store(tensor, dtype, (offset, bytes) => writer.Write(name, bytes, offset));
        writer.Complete();
    }
}
