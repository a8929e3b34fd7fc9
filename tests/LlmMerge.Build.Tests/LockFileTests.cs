using System.Text.Json.Nodes;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>
/// Hub experts resolve to commits that the lock file pins. No Hub is reachable here, so the cache is laid out
/// by hand (huggingface_hub's layout: refs/main names a commit, snapshots/COMMIT holds its files) and the real
/// `llmmerge fetch` serves it with HF_HUB_OFFLINE=1.
/// </summary>
public sealed class LockFileTests
{
    private const string CommitOne = "1111111111111111111111111111111111111111";
    private const string CommitTwo = "2222222222222222222222222222222222222222";

    [Test]
    public void TheLockPinsACommitUntilRefreshed()
    {
        using var folder = new GraphFolder();
        string cache = Path.Combine(folder.Dir, "hub");
        string repoDir = Path.Combine(cache, "models--tiny-org--tiny-expert");
        GraphFolder.CopyFolder(Path.Combine(Repo.ZooDir, "expert-arithmetic"), Path.Combine(repoDir, "snapshots", CommitOne));
        GraphFolder.CopyFolder(Path.Combine(Repo.ZooDir, "expert-comparison"), Path.Combine(repoDir, "snapshots", CommitTwo));
        folder.Write(Path.Combine(repoDir, "refs", "main"), CommitOne);
        string project = folder.Project("hub", """
              <ItemGroup>
                <Expert Include="base" Path="models/base" />
                <Expert Include="tiny-org/tiny-expert" Revision="main" />
              </ItemGroup>
              <ItemGroup>
                <MergeStep Include="ta" Method="task_arithmetic" BaseModel="base" Models="tiny-org/tiny-expert" Weight="0.5" />
              </ItemGroup>
            """);
        var offline = new Dictionary<string, string> { ["HF_HUB_OFFLINE"] = "1" };
        string hubCache = "-p:LlmMergeHubCache=" + cache;
        string lockPath = Path.Combine(folder.Dir, "hub.lock.json");

        BuildResult first = folder.Build(project, offline, hubCache);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(first.Log, Does.Contain("is commit " + CommitOne), "fetch ran and its progress is in the log");
        Assert.That(LockedCommit(lockPath), Is.EqualTo(CommitOne));
        Assert.That(first.StepsRan, Is.EqualTo(new[] { "ta" }));

        // The branch moves on the "Hub"; the lock keeps the graph where it was, without fetching.
        File.WriteAllText(Path.Combine(repoDir, "refs", "main"), CommitTwo);
        DateTime lockWritten = File.GetLastWriteTimeUtc(lockPath);
        BuildResult second = folder.Build(project, offline, hubCache);
        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        Assert.That(second.Log, Does.Not.Contain("llmmerge fetch").And.Not.Contain("is commit "));
        Assert.That(second.StepsRan, Is.Empty);
        Assert.That(LockedCommit(lockPath), Is.EqualTo(CommitOne));
        Assert.That(File.GetLastWriteTimeUtc(lockPath), Is.EqualTo(lockWritten), "an unchanged lock is not rewritten");

        BuildResult refreshed = folder.Build(project, offline, hubCache, "-p:LlmMergeRefreshLock=true");
        Assert.That(refreshed.ExitCode, Is.Zero, refreshed.ToString());
        Assert.That(LockedCommit(lockPath), Is.EqualTo(CommitTwo));
        Assert.That(refreshed.StepsRan, Is.EqualTo(new[] { "ta" }), "a new commit is a new input fingerprint");
    }

    private static string? LockedCommit(string lockPath) =>
        JsonNode.Parse(File.ReadAllText(lockPath))?["experts"]?["tiny-org/tiny-expert"]?["commit"]?.GetValue<string>();
}
