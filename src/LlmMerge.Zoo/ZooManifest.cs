using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMerge.Core.IO;
using LlmMerge.Eval.Scoring;

namespace LlmMerge.Zoo;

/// <summary>sha256 of every file of the committed zoo, so a test can tell a changed or missing file from the published one.</summary>
public static class ZooManifest
{
    public const string FileName = "manifest.json";

    /// <summary>Hashes every file under <paramref name="dir"/> (but the manifest) into manifest.json, paths relative and '/'-separated.</summary>
    public static void Write(string dir)
    {
        var files = new JsonObject();
        foreach (var (path, sha) in Hash(dir))
            files[path] = sha;
        AtomicFile.WriteAllText(Path.Combine(dir, FileName), new JsonObject { ["files"] = files }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Differences between the files under <paramref name="dir"/> and its manifest; empty when they agree.</summary>
    public static IReadOnlyList<string> Verify(string dir)
    {
        string manifestPath = Path.Combine(dir, FileName);
        if (!File.Exists(manifestPath))
            return [$"{manifestPath}: missing"];
        var expected = JsonNode.Parse(File.ReadAllText(manifestPath))!["files"]!.AsObject()
            .ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<string>(), StringComparer.Ordinal);
        var actual = Hash(dir).ToDictionary(x => x.Path, x => x.Sha, StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var (path, sha) in expected)
        {
            if (!actual.TryGetValue(path, out var got))
                problems.Add($"{path}: missing");
            else if (got != sha)
                problems.Add($"{path}: sha256 {got}, manifest says {sha}");
        }
        problems.AddRange(actual.Keys.Where(p => !expected.ContainsKey(p)).Select(p => $"{p}: not in the manifest"));
        return problems;
    }

    private static IEnumerable<(string Path, string Sha)> Hash(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(dir, f).Replace('\\', '/'))
            .Where(p => p != FileName && !p.Split('/').Any(part => part.StartsWith('.')))
            .Order(StringComparer.Ordinal)
            .Select(p =>
            {
                using var stream = File.OpenRead(Path.Combine(dir, p));
                return (p, Convert.ToHexStringLower(SHA256.HashData(stream)));
            });
}
