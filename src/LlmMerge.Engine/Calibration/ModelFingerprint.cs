using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LlmMerge.Modeling.Sources;

namespace LlmMerge.Engine.Calibration;

/// <summary>
/// A model's identity by content: sha256 over its config and every file its tensors are read from (a LoRA source's
/// base files and adapter too). Each file's hash is remembered in the cache folder under its path, size and write
/// time, so a model is read in full once, not at every merge; never by path alone, so a second copy agrees.
/// </summary>
public static class ModelFingerprint
{
    public static string Of(IModelSource source, string cacheDir)
    {
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var name in source.TensorNames)
            files.Add(Path.GetFullPath(source.RawFile(name).Path));
        if (source is LoraModelSource lora)
        {
            files.Add(Path.GetFullPath(lora.Adapter.File.Path));
            files.Add(Path.GetFullPath(Path.Combine(lora.Adapter.Directory, Core.Models.LoraAdapter.ConfigFile)));
        }
        string config = Path.Combine(source.Directory, "config.json");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (File.Exists(config))
            hash.AppendData(Encoding.UTF8.GetBytes("config:" + FileHash(config, cacheDir) + ";"));
        // Names within the model, not absolute paths, enter the hash: the model's place on disk must not matter.
        foreach (var f in files)
            hash.AppendData(Encoding.UTF8.GetBytes($"{Path.GetFileName(f)}:{FileHash(f, cacheDir)};"));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private sealed record Memo(string Path, long Length, long WriteTicks, string Sha256);

    private static string FileHash(string path, string cacheDir)
    {
        var info = new FileInfo(path);
        string memoDir = Path.Combine(cacheDir, "file-hashes");
        string memoPath = Path.Combine(memoDir, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(info.FullName)))[..32] + ".json");
        if (File.Exists(memoPath))
        {
            try
            {
                var memo = JsonSerializer.Deserialize<Memo>(File.ReadAllText(memoPath));
                if (memo is not null && memo.Path == info.FullName && memo.Length == info.Length && memo.WriteTicks == info.LastWriteTimeUtc.Ticks)
                    return memo.Sha256;
            }
            catch (JsonException)
            {
                // A damaged memo is recomputed.
            }
        }
        string sha;
        using (var stream = File.OpenRead(path))
            sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        Core.IO.AtomicFile.WriteAllText(memoPath, JsonSerializer.Serialize(new Memo(info.FullName, info.Length, info.LastWriteTimeUtc.Ticks, sha)));
        return sha;
    }
}
