namespace LlmMerge.Build.Tests.Support;

/// <summary>
/// A temp folder set up as merges/ is: Directory.Build.props and .targets import the repository's build/ files,
/// and models/ holds copies of three of the zoo's models. Projects written here are merge graphs.
/// </summary>
internal sealed class GraphFolder : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "llmmerge-build-tests", Guid.NewGuid().ToString("N")[..12]);

    public GraphFolder()
    {
        Directory.CreateDirectory(Dir);
        File.WriteAllText(Path.Combine(Dir, "Directory.Build.props"),
            $"<Project>\n  <Import Project=\"{Path.Combine(Repo.BuildDir, "LlmMerge.props")}\" />\n</Project>\n");
        File.WriteAllText(Path.Combine(Dir, "Directory.Build.targets"),
            $"<Project>\n  <Import Project=\"{Path.Combine(Repo.BuildDir, "LlmMerge.targets")}\" />\n</Project>\n");
        // Two of the zoo's experts stand in for any experts: real models with tokenizers, so graphs can evaluate them.
        foreach (var (model, zoo) in new[] { ("base", "base"), ("expert-a", "expert-arithmetic"), ("expert-b", "expert-comparison") })
            CopyFolder(Path.Combine(Repo.ZooDir, zoo), Path.Combine(Dir, "models", model));
    }

    public string Write(string relative, string text)
    {
        string path = Path.Combine(Dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>A graph project: the NoTargets SDK (versioned here, as no global.json is above a temp folder) around <paramref name="body"/>.</summary>
    public string Project(string name, string body) =>
        Write(name + ".proj", "<Project Sdk=\"Microsoft.Build.NoTargets/3.7.0\">\n" + body.TrimEnd() + "\n</Project>\n");

    /// <summary>Builds with the tools the test run built once (see <see cref="ToolsSetup"/>), so each build only runs the graph.</summary>
    public BuildResult Build(string project, params string[] args) => Build(project, null, args);

    public BuildResult Build(string project, IDictionary<string, string>? environment, params string[] args) =>
        DotnetBuild.Run(project, new[] { "-p:LlmMergeBuildTools=false" }.Concat(args), environment);

    public string Artifacts(string project, params string[] parts) =>
        Path.Combine(new[] { Dir, "artifacts", Path.GetFileNameWithoutExtension(project) }.Concat(parts).ToArray());

    public static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string f in Directory.GetFiles(from))
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }

    /// <summary>Folders of the running test; <see cref="CleanGraphFoldersAttribute"/> deletes them once its outcome is known.</summary>
    internal static List<string> Created { get; } = [];

    // The outcome is not known yet when a using block ends, so deletion waits for the test's end (see CleanGraphFoldersAttribute).
    public void Dispose() => Created.Add(Dir);
}
