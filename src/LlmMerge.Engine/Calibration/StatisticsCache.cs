using System.Security.Cryptography;
using System.Text;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Calibration;

/// <summary>
/// Calibration statistics on disk: one safetensors file per (kind, model fingerprint, calibration fingerprint),
/// float32 tensors under the names the kind gives them, written beside its place and renamed in, so a later merge
/// of the same model on the same rows reads them instead of running the model again.
/// </summary>
public sealed class StatisticsCache
{
    public StatisticsCache(string directory) => Directory = Path.GetFullPath(directory);

    public string Directory { get; }

    /// <summary>Where the statistics of <paramref name="kind"/> for that key live.</summary>
    public string PathFor(string kind, params string[] key)
    {
        string digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", key))))[..40];
        return Path.Combine(Directory, kind, digest + ".safetensors");
    }

    /// <summary>The file at <paramref name="path"/> when a complete one is there, else null.</summary>
    public static SafetensorsFile? TryOpen(string path)
    {
        if (!File.Exists(path))
            return null;
        try
        {
            return SafetensorsFile.Open(path);
        }
        catch (Core.LlmMergeException)
        {
            return null; // unreadable: computed again and replaced
        }
    }

    /// <summary>Writes <paramref name="tensors"/> (moved to the CPU as float32) and <paramref name="metadata"/> to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, IReadOnlyList<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var writer = new SafetensorsWriter(temp, tensors.Select(t => (t.Name, SafetensorsDType.F32, t.Value.shape)).ToList(), metadata))
            {
                foreach (var (name, value) in tensors)
                    TensorBridge.Store(value, ScalarType.Float32, (offset, bytes) => writer.Write(name, bytes, offset));
                writer.Complete();
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

    /// <summary>A stored tensor as float32 on <paramref name="device"/>.</summary>
    public static Tensor Load(SafetensorsFile file, string name, Device device) => TensorBridge.Load(file, file.GetInfo(name), ScalarType.Float32, device);
}
