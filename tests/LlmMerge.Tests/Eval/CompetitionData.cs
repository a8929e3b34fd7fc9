namespace LlmMerge.Tests.Eval;

/// <summary>The competition starter kit's data files, as published, kept in the repository's tasks/competition.</summary>
public static class CompetitionData
{
    public static string Folder()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmMergePipeline.sln")))
                return Path.Combine(dir.FullName, "tasks", "competition");
        }
        throw new InvalidOperationException("the tests run outside the repository: no LlmMergePipeline.sln above " + TestContext.CurrentContext.TestDirectory);
    }

    /// <summary>The repository root.</summary>
    public static string RepoRoot() => Path.GetFullPath(Path.Combine(Folder(), "..", ".."));
}
