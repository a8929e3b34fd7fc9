namespace LlmMerge.Hub;

/// <summary>A completed fetch: the commit the revision resolved to and the snapshot folder that holds its files.</summary>
/// <param name="RepoId">The repository fetched.</param>
/// <param name="RepoType">Whether it is a model or a dataset.</param>
/// <param name="Revision">The revision asked for.</param>
/// <param name="Commit">The 40-character commit the revision resolved to: what a lock file records.</param>
/// <param name="SnapshotPath">The folder <c>snapshots/COMMIT</c> in the cache.</param>
/// <param name="Files">The files selected, each present in the snapshot.</param>
public sealed record FetchResult(
    string RepoId,
    RepoType RepoType,
    string Revision,
    string Commit,
    string SnapshotPath,
    IReadOnlyList<FetchedFile> Files)
{
    /// <summary>True when the Hub was not asked (HF_HUB_OFFLINE) or could not be reached, so a branch may have moved since the cache was filled.</summary>
    public bool FromCacheOnly { get; init; }
}
