using System.Net;
using System.Net.Sockets;

namespace LlmMerge.Hub.Tests;

/// <summary>Sharing the cache with another downloader, and serving it when the Hub cannot be reached.</summary>
public sealed class ConcurrencyAndFallbackTests : HubTestBase
{
    [Test]
    public async Task BlobLockedByAnotherProcess_IsWaitedFor_AndNotDownloadedTwice()
    {
        var repo = Hub.AddRepo("org/model").AddLfs("model.safetensors", 50_000);
        string sha = repo.Files["model.safetensors"].Sha256;
        string lockPath = Path.Combine(CacheDir, ".locks", "models--org--model", sha + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        FileStream held = new(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);

        Task<FetchResult> fetch;
        try
        {
            fetch = FetchAsync(Settings(), new FetchRequest("org/model"));
            await Task.Delay(TimeSpan.FromMilliseconds(800));
            Assert.That(fetch.IsCompleted, Is.False, "the fetch must wait for the lock");

            // The lock holder (huggingface_hub, say) finishes the blob, then lets go.
            Directory.CreateDirectory(Path.Combine(RepoFolder("org/model"), "blobs"));
            await File.WriteAllBytesAsync(Path.Combine(RepoFolder("org/model"), "blobs", sha), repo.Files["model.safetensors"].Content);
        }
        finally
        {
            await held.DisposeAsync();
        }

        FetchResult result = await fetch.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(Hub.Requests.Any(r => r.IsCdn), Is.False);
        Assert.That(result.Files.Single().Downloaded, Is.False);
        Assert.That(File.ReadAllBytes(Path.Combine(result.SnapshotPath, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"].Content));
    }

    [Test]
    public async Task UnreachableHub_ServesAWarmCache_AndSaysSo()
    {
        var repo = Hub.AddRepo("org/model").AddText("config.json", "{}");
        await FetchAsync(Settings(), new FetchRequest("org/model"));

        FetchResult result = await FetchAsync(Unreachable(), new FetchRequest("org/model"));

        Assert.That(result.Commit, Is.EqualTo(repo.Commit));
        Assert.That(result.FromCacheOnly, Is.True);
    }

    [Test]
    public async Task UnreachableHub_WithAColdCache_FailsNamingTheRepo()
    {
        var error = await Assert.ThrowsAsync<HubUnavailableException>(() => FetchAsync(Unreachable(), new FetchRequest("org/model")));

        Assert.That(error!.Message, Does.Contain("org/model").And.Contain("2 failed attempts").And.Contain("HF_HUB_OFFLINE"));
    }

    // A loopback port nobody listens on: connections are refused at once.
    private HubSettings Unreachable()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return Settings() with { Endpoint = new Uri($"http://127.0.0.1:{port}"), MaxAttempts = 2 };
    }
}
