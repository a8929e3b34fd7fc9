using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace LlmMerge.Eval.Routing;

/// <summary>
/// What a router records of each model it names: a Hugging Face cache snapshot (<c>models--ORG--NAME/snapshots/COMMIT</c>)
/// by repository and commit, fingerprinted as the merge graph fingerprints Hub experts (sha256 of "hub v1", repo and
/// commit); a local folder by the sha256 of its files (relative path, length and sha256 of each, in ordinal order; hidden
/// files left out). A LoRA adapter's fingerprint covers its base's too.
/// </summary>
public static partial class ModelFingerprint
{
    [GeneratedRegex(@"[\\/]models--(?<org>[^\\/]+?)--(?<name>[^\\/]+)[\\/]snapshots[\\/](?<commit>[0-9a-f]{40})$")]
    private static partial Regex HubSnapshot();

    /// <summary>The Hub repository and commit of a cache snapshot folder, or null for any other folder.</summary>
    public static (string Repo, string Commit)? HubIdentity(string dir)
    {
        var m = HubSnapshot().Match(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
        return m.Success ? ($"{m.Groups["org"].Value}/{m.Groups["name"].Value}", m.Groups["commit"].Value) : null;
    }

    /// <summary>The fingerprint of a model folder (a Hub snapshot by identity, else by content).</summary>
    public static string Of(string dir)
    {
        if (HubIdentity(dir) is var (repo, commit))
            return Sha256($"hub v1\n{repo}\n{commit}");
        var text = new StringBuilder("folder v1\n");
        string root = Path.GetFullPath(dir);
        foreach (string file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                     .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
                     .Where(f => !f.Split('/').Any(p => p.StartsWith('.')))
                     .Order(StringComparer.Ordinal))
        {
            string full = Path.Combine(root, file);
            using var stream = File.OpenRead(full);
            text.Append(file).Append(' ').Append(stream.Length).Append(' ').Append(Convert.ToHexStringLower(SHA256.HashData(stream))).Append('\n');
        }
        return Sha256(text.ToString());
    }

    /// <summary>An adapter applied to a base: both folders' fingerprints together.</summary>
    public static string OfAdapter(string baseDir, string adapterDir) => Sha256($"lora v1\n{Of(baseDir)}\n{Of(adapterDir)}");

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
