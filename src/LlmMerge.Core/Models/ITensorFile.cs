using LlmMerge.Core.PyTorch;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Core.Models;

/// <summary>
/// A memory-mapped file of named tensors: a safetensors file, or a PyTorch checkpoint (<c>.bin</c>) as torch.save
/// writes it. Readers see each tensor as contiguous bytes in its <see cref="TensorInfo.DType"/> and shape.
/// </summary>
public unsafe interface ITensorFile : IDisposable
{
    string Path { get; }

    IReadOnlyList<TensorInfo> Tensors { get; }

    bool Contains(string name);

    TensorInfo GetInfo(string name);

    /// <summary>Pointer to the first of the tensor's <see cref="TensorInfo.ByteLength"/> contiguous bytes; valid while the file is open.</summary>
    byte* GetPointer(TensorInfo info);

    /// <summary>The tensor's bytes as a span; for tensors under 2 GB (use <see cref="GetPointer"/> beyond).</summary>
    ReadOnlySpan<byte> GetBytes(TensorInfo info);

    /// <summary>Tells the kernel (or the reader) this process is done with a tensor's bytes for now.</summary>
    void Evict(TensorInfo info);

    /// <summary>Starts reading a tensor's bytes ahead of its use; nothing where the reader cannot (a PyTorch checkpoint's tensor may be gathered from pieces).</summary>
    void Prefetch(TensorInfo info)
    {
    }
}

/// <summary>Opens a tensor file by its extension.</summary>
public static class TensorFiles
{
    /// <summary><c>.safetensors</c> through the safetensors reader, <c>.bin</c>/<c>.pt</c>/<c>.pth</c> through the PyTorch reader.</summary>
    public static ITensorFile Open(string path) =>
        IsPyTorch(path) ? PyTorchCheckpoint.Open(path) : SafetensorsFile.Open(path);

    /// <summary>True for the extensions torch.save output is published under.</summary>
    public static bool IsPyTorch(string path) =>
        path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)
        || path.EndsWith(".pt", StringComparison.OrdinalIgnoreCase)
        || path.EndsWith(".pth", StringComparison.OrdinalIgnoreCase);
}
