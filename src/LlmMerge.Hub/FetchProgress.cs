namespace LlmMerge.Hub;

/// <summary>A throttled snapshot of a fetch's progress: the file that moved last and the whole transfer.</summary>
/// <param name="File">The file that moved, or null for a report about the whole fetch.</param>
/// <param name="FileBytes">Bytes of that file on disk (including what an earlier run left).</param>
/// <param name="FileTotal">That file's size, when known.</param>
/// <param name="TotalBytes">Bytes on disk over every file to download.</param>
/// <param name="TotalSize">The size of every file to download.</param>
/// <param name="FilesDone">Files finished, including those the cache already held.</param>
/// <param name="FilesTotal">Files selected.</param>
/// <param name="BytesPerSecond">Transfer rate of this run (bytes received over elapsed time).</param>
public readonly record struct FetchProgress(
    string? File,
    long FileBytes,
    long? FileTotal,
    long TotalBytes,
    long TotalSize,
    int FilesDone,
    int FilesTotal,
    double BytesPerSecond);
