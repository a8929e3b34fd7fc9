using System.Security.Cryptography;
using System.Text;

namespace LlmMerge.Contracts.Fingerprints;

/// <summary>
/// The content hashes every fingerprint is made of, in one place the graph (LlmMerge.Build), the search and a cluster
/// worker share: sha256 of text, of a file, and of a folder (each file's relative path and sha256, hidden files
/// skipped), so a fingerprint never depends on where a checkout lives.
/// </summary>
public static class ContentHash
{
    public static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public static string File(string path)
    {
        using var stream = System.IO.File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>sha256 over "folder v1" and every file's relative path and <paramref name="fileHash"/>, in ordinal order.</summary>
    public static string Folder(string dir, Func<string, string>? fileHash = null)
    {
        fileHash ??= File;
        var sb = new StringBuilder("folder v1\n");
        foreach (string file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
                     .Select(f => (Full: f, Rel: Path.GetRelativePath(dir, f).Replace('\\', '/')))
                     .Where(f => !f.Rel.Split('/').Any(p => p.StartsWith('.')))
                     .OrderBy(f => f.Rel, StringComparer.Ordinal)
                     .Select(f => f.Rel + "\0" + fileHash(f.Full)))
            sb.Append(file).Append('\n');
        return Sha256(sb.ToString());
    }
}
