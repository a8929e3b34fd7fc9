using System.Security.Cryptography;
using LlmMerge.Core;

namespace LlmMerge.Hub;

/// <summary>
/// Rehashes the blobs of huggingface_hub's cache that are named by a sha256 (LFS files) and, when asked, removes
/// those whose bytes do not match. Blobs named by a git sha1 (small files) and partial downloads are left alone.
/// </summary>
/// <remarks>
/// A removed blob leaves its snapshot links dangling; the next fetch sees them as missing and downloads the blob
/// again, as huggingface_hub does with a blob it cannot find.
/// </remarks>
public sealed class CacheVerifier(HubSettings settings)
{
    /// <summary>Checks every repository of the cache, or only <paramref name="repoIds"/> (of <paramref name="repoType"/>).</summary>
    /// <exception cref="LlmMergeException">The cache folder, or a named repository in it, does not exist.</exception>
    public async Task<IReadOnlyList<BlobVerification>> VerifyAsync(IReadOnlyList<string> repoIds, RepoType repoType, bool delete, IProgress<BlobVerification>? progress = null, CancellationToken cancellationToken = default)
    {
        string root = Path.GetFullPath(settings.CacheDir);
        if (!Directory.Exists(root))
        {
            throw new LlmMergeException($"the Hub cache {root} does not exist: point --cache-dir or HF_HUB_CACHE at a cache.");
        }

        var repos = new List<(string RepoId, RepoType Type)>();
        if (repoIds.Count == 0)
        {
            repos.AddRange(Directory.EnumerateDirectories(root).Select(d => ParseFolderName(Path.GetFileName(d))).OfType<(string, RepoType)>().Order());
        }
        else
        {
            foreach (string id in repoIds)
            {
                HubNames.ValidateRepoId(id);
                if (!Directory.Exists(new HubCache(root, repoType, id).RepoFolder))
                {
                    throw new LlmMergeException($"{(repoType == RepoType.Dataset ? "dataset" : "model")} {id} is not in the Hub cache {root}; fetch it first, or check --repo-type and --cache-dir.");
                }

                repos.Add((id, repoType));
            }
        }

        var results = new List<BlobVerification>();
        foreach ((string id, RepoType type) in repos)
        {
            var cache = new HubCache(root, type, id);
            string blobs = Path.Combine(cache.RepoFolder, "blobs");
            if (!Directory.Exists(blobs))
            {
                continue;
            }

            foreach (string blob in Directory.EnumerateFiles(blobs).Order(StringComparer.Ordinal))
            {
                string name = Path.GetFileName(blob);
                if (!HubNames.IsSha256(name))
                {
                    continue;
                }

                BlobVerification result = await CheckAsync(cache, id, type, blob, name, delete, cancellationToken);
                results.Add(result);
                progress?.Report(result);
            }
        }

        return results;
    }

    private async Task<BlobVerification> CheckAsync(HubCache cache, string repoId, RepoType type, string blob, string expected, bool delete, CancellationToken cancellationToken)
    {
        long size;
        string actual;
        await using (var stream = new FileStream(blob, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true))
        {
            size = stream.Length;
            actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
        }

        bool deleted = false;
        if (actual != expected && delete)
        {
            // Under huggingface_hub's blob lock, so no download of the same blob (ours or Python's) is mid-way.
            await using (await BlobLock.AcquireAsync(cache.LockPath(expected), $"removing the corrupt blob {blob}", settings.LockTimeout, cancellationToken))
            {
                File.Delete(blob);
            }

            deleted = true;
        }

        return new BlobVerification(repoId, type, blob, expected, actual, size, deleted);
    }

    // models--ORG--NAME / datasets--ORG--NAME, as huggingface_hub names them; anything else (.locks, spaces) is skipped.
    private static (string RepoId, RepoType Type)? ParseFolderName(string folder)
    {
        string[] parts = folder.Split("--");
        RepoType? type = parts[0] switch { "models" => RepoType.Model, "datasets" => RepoType.Dataset, _ => null };
        return type is { } t && parts.Length is 2 or 3 && parts.Skip(1).All(p => p.Length > 0)
            ? (string.Join('/', parts.Skip(1)), t)
            : null;
    }
}
