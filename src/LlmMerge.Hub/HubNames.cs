using System.Text.RegularExpressions;
using LlmMerge.Core;

namespace LlmMerge.Hub;

/// <summary>Checks on the names a user or the Hub hands us before any of them becomes part of a path on disk.</summary>
internal static partial class HubNames
{
    /// <summary>True for a full 40-character git commit id (lower-case hex, as the Hub writes it).</summary>
    public static bool IsCommitHash(string value) => CommitPattern().IsMatch(value);

    /// <summary>True for a 64-character lower-case hex sha256, the blob name of an LFS file.</summary>
    public static bool IsSha256(string value) => Sha256Pattern().IsMatch(value);

    /// <summary>Refuses a repository id that is not NAME or ORG/NAME in the Hub's alphabet.</summary>
    public static void ValidateRepoId(string repoId)
    {
        // The id becomes a cache folder name (slashes turned into "--"), so the Hub's own rules keep it inside the cache.
        string[] parts = repoId.Split('/');
        bool ok = parts.Length is 1 or 2
            && parts.All(p => p.Length is > 0 and <= 96 && RepoPartPattern().IsMatch(p) && p != "." && p != "..")
            && !repoId.Contains("--", StringComparison.Ordinal)
            && !repoId.Contains("..", StringComparison.Ordinal);
        if (!ok)
        {
            throw new LlmMergeException($"'{repoId}' is not a Hugging Face repository id: write it as ORG/NAME (letters, digits, '-', '_', '.'), e.g. Qwen/Qwen2.5-0.5B.");
        }
    }

    /// <summary>Refuses a revision that could not name a branch, tag or commit, or that would leave <c>refs/</c>.</summary>
    public static void ValidateRevision(string repoId, string revision)
    {
        if (string.IsNullOrWhiteSpace(revision) || !IsSafeRelativePath(revision) || revision.Any(char.IsWhiteSpace))
        {
            throw new LlmMergeException($"revision '{revision}' of {repoId} is not a branch, tag or commit name: pass e.g. --revision main or a 40-character commit.");
        }
    }

    /// <summary>Refuses a file name from the Hub that would land outside the snapshot folder.</summary>
    public static void ValidateFileName(string repoId, string fileName)
    {
        if (!IsSafeRelativePath(fileName))
        {
            throw new LlmMergeException($"{repoId} lists the file '{fileName}', whose name would land outside the snapshot folder ('..', an absolute path or a backslash): refusing to fetch the repository.");
        }
    }

    /// <summary>Normalises an ETag header to huggingface_hub's blob name and refuses one that is not a plain file name.</summary>
    public static string BlobName(string repoId, string fileName, string etagHeader)
    {
        string etag = etagHeader.Trim();
        if (etag.StartsWith("W/", StringComparison.Ordinal))
        {
            etag = etag[2..];
        }

        etag = etag.Trim('"');
        if (!EtagPattern().IsMatch(etag) || etag.Contains("..", StringComparison.Ordinal))
        {
            throw new LlmMergeException($"the Hub sent an unusable ETag for {fileName} of {repoId}: it cannot name a blob in the cache; try again later.");
        }

        return etag;
    }

    // Forward-slash relative paths only: no root, no drive, no backslash, no "." or ".." segment, no control characters.
    private static bool IsSafeRelativePath(string path) =>
        path.Length > 0
        && !path.StartsWith('/')
        && !path.Contains('\\', StringComparison.Ordinal)
        && !DrivePattern().IsMatch(path)
        && !path.Any(char.IsControl)
        && path.Split('/').All(segment => segment.Length > 0 && segment != "." && segment != "..");

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Pattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]+$")]
    private static partial Regex RepoPartPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]{1,200}$")]
    private static partial Regex EtagPattern();

    [GeneratedRegex("^[A-Za-z]:")]
    private static partial Regex DrivePattern();
}
