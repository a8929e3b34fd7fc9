using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using static TorchSharp.torch;

namespace LlmMerge.Modeling.Sources;

/// <summary>
/// A model as the planner and executor see it: its tensors' names, shapes and values, its config, and the folder
/// its tokenizer comes from. A plain folder reads its memory-mapped tensors; a base with a LoRA adapter computes
/// W + scale·B·A as each tensor is read, so no merged copy of the model is ever written.
/// </summary>
public interface IModelSource
{
    ModelReference Reference { get; }

    /// <summary>The folder holding the model's config and tokenizer files (the base's, for an adapter).</summary>
    string Directory { get; }

    ModelConfig? Config { get; }

    /// <summary>Tensor names in file order.</summary>
    IReadOnlyList<string> TensorNames { get; }

    bool Contains(string name);

    /// <summary>Name, dtype and shape of a tensor as the model presents it (an adapted tensor keeps its base's dtype).</summary>
    TensorInfo GetInfo(string name);

    /// <summary>Reads a tensor's values into a new libtorch tensor of <paramref name="computeType"/> on <paramref name="device"/>.</summary>
    Tensor Load(string name, ScalarType computeType, Device device);

    /// <summary>The file whose bytes are exactly the tensor's stored value, for tensors copied untouched (non-float ones).</summary>
    ITensorFile RawFile(string name);

    /// <summary>Releases the pages the tensor was read from and returns how many bytes that read took.</summary>
    long Evict(string name);

    /// <summary>Starts reading a tensor's pages ahead of its use (nothing where the source cannot).</summary>
    void Prefetch(string name)
    {
    }
}

/// <summary>A Hugging Face model folder, read straight from its memory maps.</summary>
public sealed class FolderModelSource(ModelReference reference, ModelFolder folder) : IModelSource
{
    public ModelReference Reference => reference;

    public ModelFolder Folder => folder;

    public string Directory => folder.Directory;

    public ModelConfig? Config => folder.Config;

    public IReadOnlyList<string> TensorNames => folder.TensorNames;

    public bool Contains(string name) => folder.Contains(name);

    public TensorInfo GetInfo(string name) => folder.GetInfo(name);

    public Tensor Load(string name, ScalarType computeType, Device device)
    {
        var file = folder.GetFile(name);
        return Torch.TensorBridge.Load(file, file.GetInfo(name), computeType, device);
    }

    public ITensorFile RawFile(string name) => folder.GetFile(name);

    public long Evict(string name)
    {
        var file = folder.GetFile(name);
        var info = file.GetInfo(name);
        file.Evict(info);
        return info.ByteLength;
    }

    public void Prefetch(string name)
    {
        var file = folder.GetFile(name);
        file.Prefetch(file.GetInfo(name));
    }
}
