namespace LlmMerge.Tests.Eval;

/// <summary>The competition starter kit's data files, in shared/competition beside the repository.</summary>
public static class CompetitionData
{
    public static string Folder()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "LlmMergePipeline.sln"))) continue;
            string folder = Path.Combine(dir.FullName, "..", "shared", "competition");
            if (File.Exists(Path.Combine(folder, "cosmos_qa.csv"))) return Path.GetFullPath(folder);
            break;
        }

        Assert.Ignore("shared/competition (the starter kit's data) is not beside the repository here.");
        return "";
    }
}
