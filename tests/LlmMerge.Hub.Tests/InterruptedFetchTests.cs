namespace LlmMerge.Hub.Tests;

/// <summary>A multi-file fetch that dies part-way is finished by the next run, which transfers only what is missing.</summary>
public sealed class InterruptedFetchTests : HubTestBase
{
    [Test]
    public async Task RerunAfterInterruption_DownloadsOnlyTheIncompleteFile_AndReportsProgress()
    {
        const int cut = 30_000;
        var repo = Hub.AddRepo("org/sharded")
            .AddText("config.json", "{}")
            .AddText("model.safetensors.index.json", "{\"weight_map\":{}}")
            .AddLfs("model-00001-of-00003.safetensors", 100_000, seed: 1)
            .AddLfs("model-00002-of-00003.safetensors", 100_000, seed: 2)
            .AddLfs("model-00003-of-00003.safetensors", 100_000, seed: 3);
        string broken = repo.Files["model-00002-of-00003.safetensors"].Sha256;
        // The connection to one shard always dies after `cut` bytes, so the first run gives up on it.
        Hub.Tamper = (request, response) => request.IsCdn && request.Path.EndsWith(broken, StringComparison.Ordinal) ? response with { CutAfter = cut } : response;

        await Assert.ThrowsAsync<HubUnavailableException>(() => FetchAsync(Settings() with { MaxAttempts = 1 }, new FetchRequest("org/sharded")));

        string blobs = Path.Combine(RepoFolder("org/sharded"), "blobs");
        Assert.That(new FileInfo(Path.Combine(blobs, broken + ".incomplete")).Length, Is.EqualTo(cut));
        Assert.That(File.Exists(Path.Combine(blobs, broken)), Is.False);
        Assert.That(File.Exists(Path.Combine(RepoFolder("org/sharded"), "refs", "main")), Is.False, "no ref to a snapshot that lacks files");

        Hub.Tamper = null;
        Hub.ClearRequests();
        var progress = new ProgressLog();
        FetchResult result = await FetchAsync(Settings(), new FetchRequest("org/sharded"), progress);

        // Only the broken shard moves: one HEAD for it, one ranged GET for the rest of its bytes.
        var requests = Hub.Requests;
        Assert.That(requests.Where(r => r.Method == "HEAD").Select(r => r.Path), Is.EqualTo(new[] { $"/org/sharded/resolve/{repo.Commit}/model-00002-of-00003.safetensors" }));
        var gets = requests.Where(r => r.IsCdn && r.Method == "GET").ToList();
        Assert.That(gets.Select(r => r.Path), Is.EqualTo(new[] { "/cdn/" + broken }));
        Assert.That(gets[0].Header("Range"), Is.EqualTo($"bytes={cut}-"));
        Assert.That(gets[0].BodyBytesSent, Is.EqualTo(100_000 - cut));
        Assert.That(result.Files.Where(f => f.Downloaded).Select(f => f.Path), Is.EqualTo(new[] { "model-00002-of-00003.safetensors" }));
        foreach (FetchedFile file in result.Files)
        {
            Assert.That(File.ReadAllBytes(file.LocalPath), Is.EqualTo(repo.Files[file.Path].Content), file.Path);
        }

        FetchProgress last = progress.Reports[^1];
        Assert.That(last.FilesDone, Is.EqualTo(5));
        Assert.That(last.FilesTotal, Is.EqualTo(5));
        Assert.That(last.TotalBytes, Is.EqualTo(100_000));
        Assert.That(last.TotalSize, Is.EqualTo(100_000));
        Assert.That(progress.Reports.Where(p => p.File == "model-00002-of-00003.safetensors").Select(p => p.FileBytes), Is.Ordered.And.Contains(cut));
        Assert.That(File.ReadAllText(Path.Combine(RepoFolder("org/sharded"), "refs", "main")), Is.EqualTo(repo.Commit));

        // A third run finds everything: only the API call, no file request.
        Hub.ClearRequests();
        await FetchAsync(Settings(), new FetchRequest("org/sharded"));
        Assert.That(Hub.Requests.Select(r => r.Path), Is.EqualTo(new[] { "/api/models/org/sharded/revision/main" }));
    }

    [Test]
    public async Task BlobAlreadyInTheCache_IsLinkedWithoutDownloading()
    {
        var repo = Hub.AddRepo("org/model").AddLfs("model.safetensors", 40_000);
        FetchResult first = await FetchAsync(Settings(), new FetchRequest("org/model"));
        // As after a Python download of another commit: the blob is there, the snapshot entry is not.
        File.Delete(Path.Combine(first.SnapshotPath, "model.safetensors"));
        Hub.ClearRequests();

        FetchResult second = await FetchAsync(Settings(), new FetchRequest("org/model"));

        Assert.That(Hub.Requests.Any(r => r.IsCdn), Is.False);
        Assert.That(second.Files.Single().Downloaded, Is.False);
        Assert.That(File.ReadAllBytes(Path.Combine(second.SnapshotPath, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"].Content));
    }
}
