namespace LlmMerge.Build;

/// <summary>huggingface_hub's cache layout, as src/LlmMerge.Hub writes it: models--ORG--NAME/snapshots/COMMIT.</summary>
internal static class HubCachePaths
{
    /// <summary>The cache folder: the given one, else HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.</summary>
    public static string CacheDir(string? configured)
    {
        if (!string.IsNullOrEmpty(configured)) return Path.GetFullPath(configured);
        string? hub = Environment.GetEnvironmentVariable("HF_HUB_CACHE");
        if (!string.IsNullOrEmpty(hub)) return hub;
        string? home = Environment.GetEnvironmentVariable("HF_HOME");
        if (!string.IsNullOrEmpty(home)) return Path.Combine(home, "hub");
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface", "hub");
    }

    public static string Snapshot(string cacheDir, string repo, string commit) =>
        Path.Combine(cacheDir, "models--" + repo.Replace("/", "--", StringComparison.Ordinal), "snapshots", commit);
}
