using LlmMerge.Core;

namespace LlmMerge.Hub;

/// <summary>The exclusive lock on one blob's download, shared with huggingface_hub so two processes never write one blob.</summary>
/// <remarks>
/// .NET takes FileShare.None on Unix as flock(LOCK_EX), the same lock Python's filelock takes on the same file,
/// so a Python download and ours wait for each other; the lock dies with its process, leaving no stale state.
/// </remarks>
internal static class BlobLock
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    /// <summary>Waits (up to <paramref name="timeout"/>) until this process holds the lock at <paramref name="path"/>; dispose to release.</summary>
    public static async Task<FileStream> AcquireAsync(string path, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                // Another process is downloading the same blob; when it is done the blob will simply be there.
                await Task.Delay(Poll, cancellationToken);
            }
            catch (IOException e)
            {
                throw new LlmMergeException($"{what}: another process has held the download lock {path} for {timeout.TotalMinutes:0} minutes; wait for it to finish or stop it, then run the fetch again.", e);
            }
        }
    }
}
