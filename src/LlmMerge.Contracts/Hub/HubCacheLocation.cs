namespace LlmMerge.Contracts.Hub;

/// <summary>
/// Where huggingface_hub's cache lives and how it is laid out (huggingface_hub constants.py and file_download.py):
/// <c>HF_HUB_CACHE</c>, else the legacy <c>HUGGINGFACE_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, where HF_HOME
/// defaults to <c>$XDG_CACHE_HOME/huggingface</c> and XDG_CACHE_HOME to <c>~/.cache</c>; a repository is
/// <c>models--ORG--NAME</c> with <c>snapshots/COMMIT</c>. The Hub client and the graph's tasks both read it here.
/// </summary>
public static class HubCacheLocation
{
    /// <summary>HF_HOME, with its default.</summary>
    public static string HfHome(Func<string, string?> getEnv)
    {
        if (NonEmpty(getEnv("HF_HOME")) is { } home)
            return ExpandHome(home);
        string xdg = NonEmpty(getEnv("XDG_CACHE_HOME")) ?? Path.Combine(UserHome(), ".cache");
        return Path.Combine(ExpandHome(xdg), "huggingface");
    }

    /// <summary>The hub cache folder the environment names.</summary>
    public static string CacheDir(Func<string, string?> getEnv) =>
        ExpandHome(NonEmpty(getEnv("HF_HUB_CACHE")) ?? NonEmpty(getEnv("HUGGINGFACE_HUB_CACHE")) ?? Path.Combine(HfHome(getEnv), "hub"));

    /// <summary>The configured folder when given (a graph's LlmMergeHubCache), else the process environment's.</summary>
    public static string CacheDir(string? configured) =>
        !string.IsNullOrEmpty(configured) ? Path.GetFullPath(ExpandHome(configured)) : CacheDir(Environment.GetEnvironmentVariable);

    /// <summary>A repository's folder name: <c>models--ORG--NAME</c> (or datasets--, spaces--).</summary>
    public static string RepoFolderName(string repoId, string typePrefix = "models") => $"{typePrefix}--{repoId.Replace("/", "--", StringComparison.Ordinal)}";

    /// <summary>The snapshot folder of a model repository at a commit.</summary>
    public static string Snapshot(string cacheDir, string repoId, string commit) =>
        Path.Combine(cacheDir, RepoFolderName(repoId), "snapshots", commit);

    /// <summary>~ and ~/ expanded to the user's home, as os.path.expanduser.</summary>
    public static string ExpandHome(string path) =>
        path == "~" ? UserHome()
        : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(UserHome(), path[2..])
        : path;

    private static string UserHome() => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
