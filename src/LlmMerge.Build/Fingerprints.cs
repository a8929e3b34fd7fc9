using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace LlmMerge.Build;

/// <summary>
/// Content fingerprints. A local folder is hashed file by file; each file's sha256 is kept in a cache keyed by
/// path, size and write time, so a build re-reads only files that changed, yet the fingerprint is of content.
/// </summary>
internal sealed class Fingerprints
{
    private readonly string? _cacheFile;
    private readonly Dictionary<string, CachedHash> _cache;
    private bool _dirty;

    private sealed record CachedHash(long Size, long Ticks, string Sha256);

    public Fingerprints(string? cacheFile)
    {
        _cacheFile = cacheFile;
        _cache = new Dictionary<string, CachedHash>(StringComparer.Ordinal);
        if (cacheFile is not null && File.Exists(cacheFile))
        {
            try
            {
                _cache = JsonSerializer.Deserialize<Dictionary<string, CachedHash>>(File.ReadAllText(cacheFile)) ?? _cache;
            }
            catch (JsonException)
            {
                // A damaged cache only costs re-hashing.
            }
        }
    }

    public static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public string File256(string path)
    {
        var info = new FileInfo(path);
        string key = info.FullName;
        if (_cache.TryGetValue(key, out var hit) && hit.Size == info.Length && hit.Ticks == info.LastWriteTimeUtc.Ticks)
            return hit.Sha256;
        string sha;
        using (var stream = File.OpenRead(path))
            sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        _cache[key] = new CachedHash(info.Length, info.LastWriteTimeUtc.Ticks, sha);
        _dirty = true;
        return sha;
    }

    /// <summary>sha256 over every file's relative path and content hash, in ordinal order; hidden files are skipped.</summary>
    public string Folder(string dir)
    {
        var sb = new StringBuilder("folder v1\n");
        foreach (string file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
                     .Select(f => (Full: f, Rel: Path.GetRelativePath(dir, f).Replace('\\', '/')))
                     .Where(f => !f.Rel.Split('/').Any(p => p.StartsWith('.')))
                     .OrderBy(f => f.Rel, StringComparer.Ordinal)
                     .Select(f => f.Rel + "\0" + File256(f.Full)))
            sb.Append(file).Append('\n');
        return Sha256(sb.ToString());
    }

    public void Save()
    {
        if (!_dirty || _cacheFile is null)
            return;
        Directory.CreateDirectory(Path.GetDirectoryName(_cacheFile)!);
        StampFile.WriteIfDifferent(_cacheFile, JsonSerializer.Serialize(_cache));
    }
}

/// <summary>Writes a file only when its content changes, so its timestamp moves only when its content does.</summary>
internal static class StampFile
{
    /// <summary>True when the file was (re)written.</summary>
    public static bool WriteIfDifferent(string path, string content)
    {
        if (File.Exists(path) && File.ReadAllText(path) == content)
            return false;
        Replace(path, content);
        return true;
    }

    /// <summary>
    /// Writes beside <paramref name="path"/> under a name unique to this process and renames over it: a reader never
    /// sees half a file, and two builds of one graph writing the same file at the same moment both succeed.
    /// </summary>
    public static void Replace(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string tmp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(tmp, content);
        File.Move(tmp, path, overwrite: true);
    }
}
