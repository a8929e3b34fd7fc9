namespace LlmMerge.Build.Tests.Support;

/// <summary>Paths in the repository the tests run from.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string BuildDir => Path.Combine(Root, "build");

    public static string ZooDir => Path.Combine(Root, "merges", "zoo");

    public static string CliAssembly => Path.Combine(Root, "src", "LlmMerge.Cli", "bin", "Release", "net10.0", "llmmerge.dll");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmMergePipeline.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("LlmMergePipeline.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }
}
