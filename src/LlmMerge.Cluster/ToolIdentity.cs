using System.Security.Cryptography;
using System.Text;

namespace LlmMerge.Cluster;

/// <summary>
/// Which llmmerge build a process runs: a hash of llmmerge.dll and the project's assemblies beside it (the ones the
/// graph's step fingerprints hash), leaving out this assembly, which moves jobs and computes nothing. The tools are
/// built deterministically with source paths mapped, so the same commit built in any folder on any machine has the
/// same identity; a worker only takes jobs from clients of its own build, so a step's fingerprint (which names the
/// client's tools) always describes what ran.
/// </summary>
public static class ToolIdentity
{
    private static string? _current;

    /// <summary>The identity of the running process's own folder.</summary>
    public static string Current => _current ??= Of(AppContext.BaseDirectory);

    public static string Of(string dir)
    {
        var files = Directory.EnumerateFiles(dir, "*.dll")
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(f => (f.StartsWith("llmmerge", StringComparison.OrdinalIgnoreCase) || f.StartsWith("LlmMerge.", StringComparison.Ordinal))
                        && f != typeof(ToolIdentity).Assembly.GetName().Name + ".dll")
            .Order(StringComparer.Ordinal);
        var sb = new StringBuilder();
        foreach (string f in files)
            sb.Append(f).Append(' ').Append(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, f))))).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..16];
    }
}
