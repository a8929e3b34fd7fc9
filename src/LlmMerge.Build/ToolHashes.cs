using System.Text;

namespace LlmMerge.Build;

/// <summary>
/// Hashes of the tools' own assemblies, which decide what a step computes and how a model is scored. The tools
/// are built deterministically with source paths mapped (Directory.Build.props), so two clones in different
/// folders build the same bytes and agree on every fingerprint.
/// </summary>
internal static class ToolHashes
{
    /// <summary>The assemblies that score a model: evaluation, the forward pass, tokenizers, model I/O and the results schema.</summary>
    public static readonly string[] EvaluatorAssemblies = ["LlmMerge.Eval.dll", "LlmMerge.Modeling.dll", "LlmMerge.Tokenizers.dll", "LlmMerge.Core.dll", "LlmMerge.Contracts.dll"];

    /// <summary>The CLI and every project assembly beside it; third-party ones are pinned by version.</summary>
    public static string Cli(string cliDir, Fingerprints hashes)
    {
        if (cliDir.Length == 0 || !Directory.Exists(cliDir))
            return "unknown";
        var files = Directory.EnumerateFiles(cliDir, "*.dll")
            .Where(f => Path.GetFileName(f).StartsWith("llmmerge", StringComparison.OrdinalIgnoreCase)
                        || Path.GetFileName(f).StartsWith("LlmMerge.", StringComparison.Ordinal));
        return Hash(files, hashes);
    }

    /// <summary>The assemblies that score, so a scoring fix rescores every model (experts too) and an engine change rescores none it did not change.</summary>
    public static string Evaluator(string cliDir, Fingerprints hashes)
    {
        if (cliDir.Length == 0 || !Directory.Exists(cliDir))
            return "unknown";
        return Hash(EvaluatorAssemblies.Select(a => Path.Combine(cliDir, a)).Where(File.Exists), hashes);
    }

    private static string Hash(IEnumerable<string> files, Fingerprints hashes)
    {
        var sb = new StringBuilder();
        foreach (string f in files.Order(StringComparer.Ordinal))
            sb.Append(Path.GetFileName(f)).Append(' ').Append(hashes.File256(f)).Append('\n');
        return Fingerprints.Sha256(sb.ToString())[..16];
    }
}
