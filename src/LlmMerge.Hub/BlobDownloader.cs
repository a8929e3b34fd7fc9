using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using LlmMerge.Core;

namespace LlmMerge.Hub;

/// <summary>Downloads one blob into <c>blobs/ETAG.incomplete</c>, resuming with Range, then verifies and renames it into place.</summary>
internal sealed class BlobDownloader(HubHttp http, HubSettings settings, HubCache cache, ProgressTracker progress, string repoId)
{
    // Attempts that each gained bytes are not failures, but even those stop somewhere.
    private const int MaxTotalAttempts = 100;
    private const int BufferSize = 1 << 20;
    private readonly RetryPolicy retry = new(settings);

    /// <summary>Makes <c>blobs/ETAG</c> hold the file's verified bytes; a corrupt download never gets that name.</summary>
    /// <returns>True when this call transferred the bytes; false when another process finished the blob while we waited for its lock.</returns>
    public async Task<bool> DownloadAsync(RemoteFile file, CancellationToken cancellationToken)
    {
        string what = $"downloading {file.Name} of {repoId}";
        await using FileStream blobLock = await BlobLock.AcquireAsync(cache.LockPath(file.Etag), what, settings.LockTimeout, cancellationToken);
        if (File.Exists(cache.BlobPath(file.Etag)))
        {
            return false;
        }

        await DownloadLockedAsync(file, cancellationToken);
        return true;
    }

    private async Task DownloadLockedAsync(RemoteFile file, CancellationToken cancellationToken)
    {
        string incomplete = cache.IncompletePath(file.Etag);
        Directory.CreateDirectory(Path.GetDirectoryName(incomplete)!);
        using IncrementalHash? hash = file.ExpectedSha256 is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using (var stream = new FileStream(incomplete, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 16, useAsync: true))
        {
            await PrepareResumeAsync(file, stream, hash, cancellationToken);
            await TransferWithRetriesAsync(file, stream, hash, cancellationToken);
            await stream.FlushAsync(cancellationToken);
        }

        if (hash is not null)
        {
            string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (actual != file.ExpectedSha256)
            {
                // Deleted, not kept for resuming: a bad prefix would only be resumed into another bad file.
                File.Delete(incomplete);
                throw new LlmMergeException($"{file.Name} of {repoId}: the downloaded bytes have sha256 {actual}, but the Hub says {file.ExpectedSha256}; the partial download was deleted and nothing entered the cache. Run the fetch again; if it repeats, the mirror or proxy is corrupting the file.");
            }
        }

        // The rename is the commit point: blobs/ETAG exists only with complete, verified bytes.
        File.Move(incomplete, cache.BlobPath(file.Etag), overwrite: true);
    }

    // Whatever an earlier run left is kept: its bytes are hashed again (the hash must cover the whole file) and the transfer continues after them.
    private async Task PrepareResumeAsync(RemoteFile file, FileStream stream, IncrementalHash? hash, CancellationToken cancellationToken)
    {
        if (file.Size is { } size && stream.Length > size)
        {
            stream.SetLength(0);
        }

        if (hash is not null && stream.Length > 0)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                stream.Seek(0, SeekOrigin.Begin);
                int read;
                while ((read = await stream.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        stream.Seek(0, SeekOrigin.End);
        progress.SetFileBytes(file.Name, stream.Length, file.Size);
    }

    private async Task TransferWithRetriesAsync(RemoteFile file, FileStream stream, IncrementalHash? hash, CancellationToken cancellationToken)
    {
        int failuresInARow = 0;
        for (int attempt = 1; ; attempt++)
        {
            if (file.Size is { } size && stream.Length == size)
            {
                return;
            }

            long before = stream.Length;
            string? failure;
            Exception? error = null;
            try
            {
                failure = await TransferOnceAsync(file, stream, hash, cancellationToken);
            }
            catch (Exception e) when (RetryPolicy.IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                // The connection dropped mid-body: what arrived is on disk and hashed, so the next attempt resumes after it.
                failure = e.Message;
                error = e;
            }

            if (failure is null)
            {
                return;
            }

            failuresInARow = stream.Length > before ? 1 : failuresInARow + 1;
            if (failuresInARow >= retry.MaxAttempts || attempt >= MaxTotalAttempts)
            {
                throw HubErrors.GaveUp(settings, $"downloading {file.Name} of {repoId}", failuresInARow, failure, error);
            }

            await retry.DelayAsync(failuresInARow, cancellationToken);
        }
    }

    // One GET from the current end of the file. Returns null when the body ended cleanly, else why another attempt is needed.
    private async Task<string?> TransferOnceAsync(RemoteFile file, FileStream stream, IncrementalHash? hash, CancellationToken cancellationToken)
    {
        long offset = stream.Length;
        using HttpResponseMessage response = await http.SendAsync(HttpMethod.Get, file.Uri, offset, relativeRedirectsOnly: false, cancellationToken);
        switch (response.StatusCode)
        {
            case HttpStatusCode.OK when offset > 0:
                // The server ignored the Range header and sends the whole file: start over rather than append a second copy.
                Restart(file, stream, hash);
                break;
            case HttpStatusCode.OK:
                break;
            case HttpStatusCode.PartialContent when response.Content.Headers.ContentRange?.From == offset:
                break;
            case HttpStatusCode.PartialContent:
                Restart(file, stream, hash);
                return $"the server answered a different range than bytes={offset}-";
            case HttpStatusCode.RequestedRangeNotSatisfiable when file.Size is null:
                // Nothing lies past our end: the earlier run had already received the whole file.
                return null;
            case HttpStatusCode.RequestedRangeNotSatisfiable:
                Restart(file, stream, hash);
                return "the server could not serve the rest of the partial download";
            default:
                if (RetryPolicy.IsTransient(response.StatusCode))
                {
                    return $"HTTP {(int)response.StatusCode}";
                }

                // A CDN's signed address expires; the next attempt asks the Hub again and gets a fresh one.
                if (response.StatusCode == HttpStatusCode.Forbidden && response.RequestMessage?.RequestUri is { } cdn && !HubHttp.SameOrigin(cdn, settings.Endpoint))
                {
                    return $"HTTP 403 from {cdn.Host}";
                }

                throw HubErrors.ForStatus(response, settings, repoId, $"downloading {file.Name} of {repoId}");
        }

        return await CopyBodyAsync(file, response, stream, hash, cancellationToken);
    }

    private async Task<string?> CopyBodyAsync(RemoteFile file, HttpResponseMessage response, FileStream stream, IncrementalHash? hash, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken);
            while (true)
            {
                int read = await http.ReadAsync(body, buffer.AsMemory(0, BufferSize), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                if (file.Size is { } size && stream.Length + read > size)
                {
                    Restart(file, stream, hash);
                    return $"the server sent more than the {size} bytes the Hub announced";
                }

                // Written before it is hashed and counted, so a failure leaves the file, the hash and the count in step.
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                hash?.AppendData(buffer, 0, read);
                progress.Received(file.Name, read, file.Size);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        // A body that ends early without a Content-Length to tell is a dropped connection too.
        return file.Size is { } expected && stream.Length < expected ? "the connection closed before the end of the file" : null;
    }

    private void Restart(RemoteFile file, FileStream stream, IncrementalHash? hash)
    {
        stream.SetLength(0);
        hash?.GetHashAndReset();
        progress.SetFileBytes(file.Name, 0, file.Size);
    }
}
