using System.Reflection;

namespace LlmMerge.Modeling.Torch;

/// <summary>Facts about this build that fingerprints and error messages need.</summary>
public static class BuildInfo
{
    /// <summary>The libtorch backend the build referenced (the MSBuild property LlmMergeTorchBackend).</summary>
    public static string TorchBackend =>
        typeof(BuildInfo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "LlmMergeTorchBackend")?.Value ?? "cpu";

    /// <summary>The engine's version; part of every step's fingerprint.</summary>
    public static string Version =>
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
}
