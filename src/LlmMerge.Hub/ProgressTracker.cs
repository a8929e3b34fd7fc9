using System.Diagnostics;

namespace LlmMerge.Hub;

/// <summary>Adds up bytes from parallel downloads and reports them, at most once per interval, plus at each file's end.</summary>
internal sealed class ProgressTracker
{
    private readonly object gate = new();
    private readonly IProgress<FetchProgress>? sink;
    private readonly TimeSpan interval;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly Dictionary<string, long> fileBytes = new(StringComparer.Ordinal);
    private readonly int filesTotal;
    private long totalSize;
    private long totalBytes;
    private long receivedThisRun;
    private int filesDone;
    private TimeSpan? lastReport;

    /// <summary>Starts tracking <paramref name="filesTotal"/> files; reports go to <paramref name="sink"/> when given.</summary>
    public ProgressTracker(IProgress<FetchProgress>? sink, TimeSpan interval, int filesTotal)
    {
        this.sink = sink;
        this.interval = interval;
        this.filesTotal = filesTotal;
    }

    /// <summary>Adds a file that will download, with its size when the Hub told it.</summary>
    public void AddDownload(long? size)
    {
        lock (gate)
        {
            totalSize += size ?? 0;
        }
    }

    /// <summary>Counts a file the cache already held.</summary>
    public void FileAlreadyPresent(string file)
    {
        lock (gate)
        {
            filesDone++;
            Report(file, 0, null, force: true);
        }
    }

    /// <summary>Sets how many bytes of <paramref name="file"/> are on disk (after a resume or a restart).</summary>
    public void SetFileBytes(string file, long bytes, long? size)
    {
        lock (gate)
        {
            fileBytes.TryGetValue(file, out long before);
            fileBytes[file] = bytes;
            totalBytes += bytes - before;
            Report(file, bytes, size, force: false);
        }
    }

    /// <summary>Adds bytes just received for <paramref name="file"/>.</summary>
    public void Received(string file, int count, long? size)
    {
        lock (gate)
        {
            fileBytes.TryGetValue(file, out long before);
            fileBytes[file] = before + count;
            totalBytes += count;
            receivedThisRun += count;
            Report(file, before + count, size, force: false);
        }
    }

    /// <summary>Marks <paramref name="file"/> complete and always reports it.</summary>
    public void FileDone(string file, long size)
    {
        lock (gate)
        {
            filesDone++;
            Report(file, size, size, force: true);
        }
    }

    private void Report(string file, long bytes, long? size, bool force)
    {
        TimeSpan now = clock.Elapsed;
        if (sink is null || (!force && lastReport is { } last && now - last < interval))
        {
            return;
        }

        lastReport = now;
        double rate = now.TotalSeconds > 0 ? receivedThisRun / now.TotalSeconds : 0;
        sink.Report(new FetchProgress(file, bytes, size, totalBytes, totalSize, filesDone, filesTotal, rate));
    }
}
