using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using LlmMerge.Core;

namespace LlmMerge.Hub;

/// <summary>Fetches Hub repositories into huggingface_hub's cache: pinned to a commit, resumable, verified.</summary>
public sealed class HubClient : IDisposable
{
    private readonly HubSettings settings;
    private readonly HubHttp http;

    /// <summary>Creates a client; <see cref="HubSettings.FromEnvironment()"/> gives huggingface_hub's settings.</summary>
    public HubClient(HubSettings settings)
    {
        this.settings = settings;
        http = new HubHttp(settings);
    }

    /// <summary>Downloads what the request selects (or, offline, finds it in the cache) and returns the snapshot and its commit.</summary>
    /// <exception cref="LlmMergeException">The repository, revision or a file is missing, refused, unsafe or corrupt; the message says which and what to do.</exception>
    public async Task<FetchResult> FetchAsync(FetchRequest request, IProgress<FetchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        HubNames.ValidateRepoId(request.RepoId);
        HubNames.ValidateRevision(request.RepoId, request.Revision);
        var cache = new HubCache(settings.CacheDir, request.RepoType, request.RepoId);
        try
        {
            return settings.Offline
                ? FetchFromCache(request, cache, "HF_HUB_OFFLINE is set")
                : await FetchOnlineAsync(request, cache, progress, cancellationToken);
        }
        catch (LlmMergeException e) when (settings.Token is not null && e.Message.Contains(settings.Token, StringComparison.Ordinal))
        {
            // Every message is built without the token; this is the last guard for one that echoes a server's text.
            throw new LlmMergeException(HubErrors.Scrub(e.Message, settings.Token));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or HttpRequestException or JsonException)
        {
            throw new LlmMergeException(HubErrors.Scrub($"fetching {request.RepoId} into {cache.RepoFolder}: {e.Message}", settings.Token), e);
        }
    }

    /// <summary>Asks the Hub which commit <paramref name="revision"/> points to now, and which files that commit holds.</summary>
    public async Task<RevisionInfo> ResolveRevisionAsync(string repoId, string revision, RepoType repoType = RepoType.Model, CancellationToken cancellationToken = default)
    {
        HubNames.ValidateRepoId(repoId);
        HubNames.ValidateRevision(repoId, revision);
        if (settings.Offline)
        {
            throw new LlmMergeException($"cannot resolve revision {revision} of {repoId}: HF_HUB_OFFLINE is set, so the Hub is not asked; unset it or pin a commit.");
        }

        string what = $"{Kind(repoType)} {repoId} at revision {revision}";
        Uri uri = http.HubUri($"api/{Kind(repoType)}s/{repoId}/revision/{Uri.EscapeDataString(revision)}");
        using HttpResponseMessage response = await http.SendWithRetriesAsync(HttpMethod.Get, uri, relativeRedirectsOnly: false, what, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw HubErrors.ForStatus(response, settings, repoId, what);
        }

        string json = await response.Content.ReadAsStringAsync(cancellationToken);
        return RevisionInfo.Parse(json, repoId, revision);
    }

    /// <inheritdoc/>
    public void Dispose() => http.Dispose();

    private async Task<FetchResult> FetchOnlineAsync(FetchRequest request, HubCache cache, IProgress<FetchProgress>? progress, CancellationToken cancellationToken)
    {
        RevisionInfo revision;
        try
        {
            revision = await ResolveRevisionAsync(request.RepoId, request.Revision, request.RepoType, cancellationToken);
        }
        catch (HubUnavailableException) when (CachedCommit(request, cache) is not null)
        {
            // As huggingface_hub: when the Hub cannot be reached, a snapshot the cache already holds is served.
            return FetchFromCache(request, cache, "the Hub could not be reached");
        }

        string commit = revision.Commit;
        IReadOnlyList<string> selected = FileSelection.Select(revision.Files, request);
        if (selected.Count == 0)
        {
            throw NothingSelected(request, revision.Files.Count);
        }

        var tracker = new ProgressTracker(progress, settings.ProgressInterval, selected.Count);
        var results = new ConcurrentDictionary<string, FetchedFile>(StringComparer.Ordinal);

        // A file already in this commit's snapshot is done: a commit's content never changes, so no request is needed.
        var missing = new List<string>();
        foreach (string name in selected)
        {
            string local = cache.SnapshotFile(commit, name);
            if (HubCache.IsComplete(local))
            {
                results[name] = CachedFile(name, local);
                tracker.FileAlreadyPresent(name);
            }
            else
            {
                missing.Add(name);
            }
        }

        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, settings.MaxParallelDownloads), CancellationToken = cancellationToken };
        var remote = new ConcurrentBag<RemoteFile>();
        await Parallel.ForEachAsync(missing, options, async (name, ct) =>
            remote.Add(await GetMetadataAsync(request, commit, name, ct)));

        // Files whose blob is already in the cache (another commit, or a Python download) only need their link.
        var toDownload = new List<IGrouping<string, RemoteFile>>();
        foreach (IGrouping<string, RemoteFile> blob in remote.GroupBy(f => f.Etag, StringComparer.Ordinal))
        {
            if (File.Exists(cache.BlobPath(blob.Key)))
            {
                foreach (RemoteFile file in blob)
                {
                    cache.Link(commit, file.Name, file.Etag);
                    results[file.Name] = Fetched(cache, commit, file, downloaded: false);
                    tracker.FileAlreadyPresent(file.Name);
                }
            }
            else
            {
                toDownload.Add(blob);
                tracker.AddDownload(blob.First().Size);
            }
        }

        // One download per blob: two names with the same content must not race on one .incomplete file.
        // A failed file does not stop the others (as huggingface_hub's thread map): what completes now is not fetched again.
        var downloader = new BlobDownloader(http, settings, cache, tracker, request.RepoId);
        var failures = new ConcurrentQueue<Exception>();
        await Parallel.ForEachAsync(toDownload, options, async (blob, ct) =>
        {
            try
            {
                RemoteFile first = blob.First();
                bool downloaded = await downloader.DownloadAsync(first, ct);
                long size = new FileInfo(cache.BlobPath(first.Etag)).Length;
                // Counts the blob whole even when another process wrote it while we waited for its lock.
                tracker.SetFileBytes(first.Name, size, size);
                foreach (RemoteFile file in blob)
                {
                    cache.Link(commit, file.Name, file.Etag);
                    results[file.Name] = Fetched(cache, commit, file, downloaded);
                    tracker.FileDone(file.Name, size);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failures.Enqueue(e);
            }
        });
        ThrowFirst(failures);

        // Written last, so an interrupted fetch never leaves a ref pointing at a snapshot that lacks files.
        if (request.Revision != commit)
        {
            cache.WriteRef(request.Revision, commit);
        }

        return new FetchResult(request.RepoId, request.RepoType, request.Revision, commit, cache.SnapshotFolder(commit), [.. selected.Select(n => results[n])]);
    }

    private async Task<RemoteFile> GetMetadataAsync(FetchRequest request, string commit, string name, CancellationToken cancellationToken)
    {
        string what = $"{name} of {Kind(request.RepoType)} {request.RepoId} at commit {commit}";
        string prefix = request.RepoType == RepoType.Dataset ? "datasets/" : "";
        string escapedName = string.Join('/', name.Split('/').Select(Uri.EscapeDataString));
        Uri uri = http.HubUri($"{prefix}{request.RepoId}/resolve/{commit}/{escapedName}");

        // As huggingface_hub's get_hf_file_metadata (ee0a4510): a HEAD that follows relative redirects only, so it
        // stops at the redirect to the CDN, whose headers name the LFS blob.
        using HttpResponseMessage response = await http.SendWithRetriesAsync(HttpMethod.Head, uri, relativeRedirectsOnly: true, what, cancellationToken);
        int status = (int)response.StatusCode;
        if (status is < 200 or >= 400)
        {
            throw HubErrors.ForStatus(response, settings, request.RepoId, what);
        }

        // X-Linked-Etag (the LFS blob's sha256) wins; else the ETag of whatever answered last, which after a followed
        // redirect (a mirror's /cdn/ path on its own origin) is that server's ETag.
        string etagHeader = HubErrors.Header(response, "X-Linked-Etag") ?? HubErrors.Header(response, "ETag")
            ?? throw new LlmMergeException($"{what}: the Hub sent no ETag, so the file cannot be named in the cache; check HF_ENDPOINT points to a Hugging Face Hub.");
        string etag = HubNames.BlobName(request.RepoId, name, etagHeader);
        long? size = long.TryParse(HubErrors.Header(response, "X-Linked-Size"), out long linkedSize) ? linkedSize
            : status < 300 ? response.Content.Headers.ContentLength
            : null;
        // A blob named by a sha256 is, in huggingface_hub's cache, that sha256's content: whichever header the name came
        // from, the bytes must hash to it before they get the name.
        string? sha256 = HubNames.IsSha256(etag) ? etag : null;
        return new RemoteFile(name, etag, size, sha256, uri);
    }

    private FetchResult FetchFromCache(FetchRequest request, HubCache cache, string why)
    {
        string what = $"{Kind(request.RepoType)} {request.RepoId} at revision {request.Revision}";
        string? commit = CachedCommit(request, cache)
            ?? throw new LlmMergeException($"{what} is not in the cache {settings.CacheDir} and {why}: fetch it once with the network on (unset HF_HUB_OFFLINE), or point --cache-dir/HF_HUB_CACHE at a cache that has it.");

        string snapshot = cache.SnapshotFolder(commit);
        List<string> present = Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(snapshot, p).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        IReadOnlyList<string> selected = FileSelection.Select(present, request);
        if (selected.Count == 0)
        {
            throw new LlmMergeException($"{what}: the cached snapshot {snapshot} holds no file the selection asks for and {why}: fetch it with the network on, or change --include/--exclude.");
        }

        var files = new List<FetchedFile>();
        foreach (string name in selected)
        {
            string local = cache.SnapshotFile(commit, name);
            if (!HubCache.IsComplete(local))
            {
                throw new LlmMergeException($"{name} in the cached snapshot of {what} points to a missing blob and {why}: fetch it again with the network on.");
            }

            files.Add(CachedFile(name, local));
        }

        return new FetchResult(request.RepoId, request.RepoType, request.Revision, commit, snapshot, files) { FromCacheOnly = true };
    }

    // The commit the cache knows for the request's revision, when its snapshot folder exists.
    private static string? CachedCommit(FetchRequest request, HubCache cache)
    {
        string? commit = HubNames.IsCommitHash(request.Revision) ? request.Revision : cache.ReadRef(request.Revision);
        return commit is not null && Directory.Exists(cache.SnapshotFolder(commit)) ? commit : null;
    }

    private static FetchedFile CachedFile(string name, string local)
    {
        var info = new FileInfo(local);
        var target = info.LinkTarget is null ? info : (FileInfo?)info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
        return new FetchedFile(name, local, HubCache.LinkedBlobName(local) ?? "", target.Length, Downloaded: false);
    }

    private static FetchedFile Fetched(HubCache cache, string commit, RemoteFile file, bool downloaded) =>
        new(file.Name, cache.SnapshotFile(commit, file.Name), file.Etag, new FileInfo(cache.BlobPath(file.Etag)).Length, downloaded);

    private static void ThrowFirst(IReadOnlyCollection<Exception> failures)
    {
        Exception? first = failures.FirstOrDefault();
        if (first is null)
        {
            return;
        }

        if (failures.Count > 1 && first is LlmMergeException)
        {
            string message = $"{first.Message} ({failures.Count - 1} more files failed too; run the fetch again to resume them.)";
            throw first is HubUnavailableException ? new HubUnavailableException(message, first) : new LlmMergeException(message, first);
        }

        ExceptionDispatchInfo.Throw(first);
    }

    private static LlmMergeException NothingSelected(FetchRequest request, int listed)
    {
        string patterns = request.Include.Count > 0 || request.Exclude.Count > 0
            ? $" (--include {string.Join(' ', request.Include)} --exclude {string.Join(' ', request.Exclude)})"
            : " by default (safetensors, JSON, tokenizer files)";
        return new LlmMergeException($"{Kind(request.RepoType)} {request.RepoId} at revision {request.Revision}: none of its {listed} files is selected{patterns}; pass --include GLOB to choose files.");
    }

    private static string Kind(RepoType repoType) => repoType == RepoType.Dataset ? "dataset" : "model";
}
