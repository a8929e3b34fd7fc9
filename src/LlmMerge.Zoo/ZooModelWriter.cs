using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMerge.Core.IO;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Zoo;

/// <summary>Writes zoo models and adapters as Hugging Face folders, atomically.</summary>
public static class ZooModelWriter
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>A model folder: config.json, model.safetensors in bfloat16, and the tokenizer files of <paramref name="tokenizerDir"/>.</summary>
    public static void SaveModel(string dir, JsonObject config, IReadOnlyList<(string Name, Tensor Tensor)> tensors, string tokenizerDir)
    {
        using var output = new OutputFolder(dir);
        File.WriteAllText(Path.Combine(output.WorkPath, "config.json"), config.ToJsonString(Indented));
        WriteTensors(Path.Combine(output.WorkPath, "model.safetensors"), tensors, SafetensorsDType.BF16);
        foreach (var file in Directory.GetFiles(tokenizerDir))
            File.Copy(file, Path.Combine(output.WorkPath, Path.GetFileName(file)));
        output.Commit();
    }

    /// <summary>A PEFT LoRA adapter folder: adapter_config.json and adapter_model.safetensors (float32 factors, as PEFT saves them).</summary>
    public static void SaveAdapter(string dir, JsonObject adapterConfig, IReadOnlyList<(string Name, Tensor Tensor)> tensors)
    {
        using var output = new OutputFolder(dir);
        File.WriteAllText(Path.Combine(output.WorkPath, "adapter_config.json"), adapterConfig.ToJsonString(Indented));
        WriteTensors(Path.Combine(output.WorkPath, "adapter_model.safetensors"), tensors, SafetensorsDType.F32);
        output.Commit();
    }

    private static void WriteTensors(string path, IReadOnlyList<(string Name, Tensor Tensor)> tensors, SafetensorsDType dtype)
    {
        using var writer = new SafetensorsWriter(path, tensors.Select(t => (t.Name, dtype, t.Tensor.shape)));
        foreach (var (name, t) in tensors)
            TensorBridge.Store(t.detach(), dtype.ToScalarType(), (off, bytes) => writer.Write(name, bytes, off));
        writer.Complete();
    }
}
