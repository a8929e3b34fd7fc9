using LlmMerge.Contracts.Hub;

namespace LlmMerge.Hub;

/// <summary>One repository's folder in huggingface_hub's cache: <c>blobs/</c>, <c>snapshots/</c> and <c>refs/</c>.</summary>
/// <remarks>The layout is huggingface_hub's exactly, so Python tools and this client share downloads both ways.</remarks>
internal sealed class HubCache
{
    /// <summary>Opens the folder of <paramref name="repoId"/> under <paramref name="cacheDir"/>; nothing is created yet.</summary>
    public HubCache(string cacheDir, RepoType repoType, string repoId)
    {
        string prefix = repoType == RepoType.Dataset ? "datasets" : "models";
        string root = Path.GetFullPath(cacheDir);
        string folderName = HubCacheLocation.RepoFolderName(repoId, prefix);
        RepoFolder = Path.Combine(root, folderName);
        locksFolder = Path.Combine(root, ".locks", folderName);
    }

    private readonly string locksFolder;

    /// <summary>The repository's folder, e.g. <c>models--ORG--NAME</c>.</summary>
    public string RepoFolder { get; }

    /// <summary>Where a complete blob named by its etag lives.</summary>
    public string BlobPath(string etag) => Path.Combine(RepoFolder, "blobs", etag);

    /// <summary>Where a blob grows while it downloads; kept across runs so the next one resumes.</summary>
    public string IncompletePath(string etag) => BlobPath(etag) + ".incomplete";

    /// <summary>The lock file huggingface_hub holds while it downloads a blob (<c>.locks/REPO-FOLDER/ETAG.lock</c>).</summary>
    public string LockPath(string etag) => Path.Combine(locksFolder, etag + ".lock");

    /// <summary>The snapshot folder of a commit.</summary>
    public string SnapshotFolder(string commit) => Path.Combine(RepoFolder, "snapshots", commit);

    /// <summary>Where a repository file appears inside a commit's snapshot.</summary>
    public string SnapshotFile(string commit, string fileName) =>
        Path.Combine(SnapshotFolder(commit), fileName.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>The commit a branch or tag pointed to when last fetched, or null when the cache has no such ref.</summary>
    public string? ReadRef(string revision)
    {
        string path = RefPath(revision);
        if (!File.Exists(path))
        {
            return null;
        }

        string commit = File.ReadAllText(path).Trim();
        return HubNames.IsCommitHash(commit) ? commit : null;
    }

    /// <summary>Records the commit a branch or tag resolved to, replacing the ref file atomically.</summary>
    public void WriteRef(string revision, string commit)
    {
        string path = RefPath(revision);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (File.Exists(path) && File.ReadAllText(path) == commit)
        {
            return;
        }

        string temp = $"{path}.{Guid.NewGuid():N}.tmp";
        // huggingface_hub writes the bare commit without a newline; readers on both sides strip anyway.
        File.WriteAllText(temp, commit);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>True when the snapshot entry exists and, if it is a symlink, resolves to an existing blob.</summary>
    public static bool IsComplete(string snapshotFile)
    {
        var info = new FileInfo(snapshotFile);
        if (info.LinkTarget is null)
        {
            return info.Exists;
        }

        return info.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true };
    }

    /// <summary>The blob name a snapshot entry points to (its link target's file name), or null for a plain file.</summary>
    public static string? LinkedBlobName(string snapshotFile) =>
        new FileInfo(snapshotFile).LinkTarget is { } target ? Path.GetFileName(target) : null;

    /// <summary>Makes the snapshot entry a relative symlink to the blob, as huggingface_hub does; copies where symlinks are refused.</summary>
    public void Link(string commit, string fileName, string etag)
    {
        string link = SnapshotFile(commit, fileName);
        string folder = Path.GetDirectoryName(link)!;
        Directory.CreateDirectory(folder);
        string blob = BlobPath(etag);
        // Relative, so the cache still works when its folder is moved or mounted elsewhere.
        string target = Path.GetRelativePath(folder, blob);
        if (LinkedBlobName(link) == etag && IsComplete(link))
        {
            return;
        }

        // Built beside and renamed over the entry, so a reader never sees the name missing or half made.
        string temp = Path.Combine(folder, $".{Path.GetFileName(link)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.CreateSymbolicLink(temp, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            // Windows without developer mode: huggingface_hub falls back to a real file in the snapshot.
            File.Copy(blob, temp, overwrite: true);
        }

        File.Move(temp, link, overwrite: true);
    }

    private string RefPath(string revision) =>
        Path.Combine(RepoFolder, "refs", revision.Replace('/', Path.DirectorySeparatorChar));
}
