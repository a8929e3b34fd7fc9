namespace LlmMerge.Hub.Tests;

/// <summary>Progress is throttled, but a file's end is always reported.</summary>
public sealed class ProgressTests
{
    [Test]
    public void Tracker_ThrottlesByteReports_ButAlwaysReportsFileEnds()
    {
        var reports = new List<FetchProgress>();
        var tracker = new ProgressTracker(new SyncProgress(reports), TimeSpan.FromHours(1), filesTotal: 2);
        tracker.AddDownload(2000);
        tracker.FileAlreadyPresent("config.json");
        for (int i = 0; i < 1000; i++)
        {
            tracker.Received("model.safetensors", 2, 2000);
        }

        tracker.FileDone("model.safetensors", 2000);

        Assert.That(reports.Select(r => r.File), Is.EqualTo(new[] { "config.json", "model.safetensors" }));
        FetchProgress last = reports[^1];
        Assert.That((last.FileBytes, last.FileTotal, last.TotalBytes, last.TotalSize, last.FilesDone, last.FilesTotal), Is.EqualTo((2000L, (long?)2000, 2000L, 2000L, 2, 2)));
    }

    [Test]
    public void Writer_PrintsFileTotalsAndRate_OnOneLine()
    {
        using var text = new StringWriter();

        new FetchProgressWriter(text).Report(new FetchProgress("model.safetensors", 1536, 3 * 1024 * 1024, 1536, 3 * 1024 * 1024, 0, 3, 2048));

        Assert.That(text.ToString().TrimEnd(), Is.EqualTo("fetch: model.safetensors 1.5 KiB/3.0 MiB; total 1.5 KiB/3.0 MiB, files 0/3, 2.0 KiB/s"));
    }

    private sealed class SyncProgress(List<FetchProgress> reports) : IProgress<FetchProgress>
    {
        public void Report(FetchProgress value) => reports.Add(value);
    }
}
