using LlmMerge.Core;
using LlmMerge.Hub.Tests.Fakes;

namespace LlmMerge.Hub.Tests;

/// <summary>Dropped connections, server errors, servers that ignore Range, and bytes that are not what the Hub promised.</summary>
public sealed class FaultTests : HubTestBase
{
    [Test]
    public async Task TransferCutOffHalfWay_CompletesByResuming_NotRestarting()
    {
        const int size = 400_000;
        const int cut = 150_000;
        var repo = Hub.AddRepo("org/big").AddLfs("model.safetensors", size);
        int cdnGets = 0;
        Hub.Tamper = (request, response) =>
            request.IsCdn && request.Method == "GET" && Interlocked.Increment(ref cdnGets) == 1 ? response with { CutAfter = cut } : response;

        FetchResult result = await FetchAsync(Settings(), new FetchRequest("org/big"));

        RecordedRequest[] gets = [.. Hub.Requests.Where(r => r.IsCdn && r.Method == "GET")];
        Assert.That(gets, Has.Length.EqualTo(2));
        Assert.That(gets[0].Header("Range"), Is.Null);
        Assert.That(gets[0].BodyBytesSent, Is.EqualTo(cut));
        Assert.That(gets[1].Header("Range"), Is.EqualTo($"bytes={cut}-"));
        Assert.That(gets[1].Status, Is.EqualTo(206));
        Assert.That(gets[1].BodyBytesSent, Is.EqualTo(size - cut));
        Assert.That(File.ReadAllBytes(Path.Combine(result.SnapshotPath, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"].Content));
    }

    [Test]
    public async Task ServerError_ThenSuccess_IsRetried()
    {
        var repo = Hub.AddRepo("org/flaky").AddLfs("model.safetensors", 10_000).AddText("config.json", "{}");
        int apiCalls = 0;
        int cdnCalls = 0;
        Hub.Tamper = (request, response) =>
            (request.Path.StartsWith("/api/", StringComparison.Ordinal) && Interlocked.Increment(ref apiCalls) == 1)
            || (request.IsCdn && Interlocked.Increment(ref cdnCalls) == 1)
                ? FakeResponse.Empty(request.IsCdn ? 503 : 500)
                : response;

        FetchResult result = await FetchAsync(Settings(), new FetchRequest("org/flaky"));

        Assert.That(apiCalls, Is.EqualTo(2));
        Assert.That(cdnCalls, Is.EqualTo(2));
        Assert.That(File.ReadAllBytes(Path.Combine(result.SnapshotPath, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"].Content));
    }

    [Test]
    public async Task ExpiredCdnAddress_IsRetriedThroughTheHub()
    {
        var repo = Hub.AddRepo("org/expiring").AddLfs("model.safetensors", 10_000);
        int cdnGets = 0;
        Hub.Tamper = (request, response) =>
            request.IsCdn && Interlocked.Increment(ref cdnGets) == 1 ? FakeResponse.Empty(403) : response;

        FetchResult result = await FetchAsync(Settings(), new FetchRequest("org/expiring"));

        Assert.That(cdnGets, Is.EqualTo(2));
        Assert.That(Hub.Requests.Count(r => r.Method == "GET" && r.Path.Contains("/resolve/", StringComparison.Ordinal)), Is.EqualTo(2));
        Assert.That(File.ReadAllBytes(Path.Combine(result.SnapshotPath, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"].Content));
    }

    [Test]
    public async Task ServerErrorsThatNeverStop_GiveUpAfterBoundedAttempts()
    {
        Hub.AddRepo("org/down").AddText("config.json", "{}");
        Hub.Tamper = (_, _) => FakeResponse.Empty(500);

        var error = await Assert.ThrowsAsync<HubUnavailableException>(() => FetchAsync(Settings() with { MaxAttempts = 3 }, new FetchRequest("org/down")));

        Assert.That(error!.Message, Does.Contain("org/down").And.Contain("3 failed attempts"));
        Assert.That(Hub.Requests, Has.Count.EqualTo(3));
    }

    [Test]
    public async Task ServerIgnoringRange_RestartsTheFile_InsteadOfAppendingASecondCopy()
    {
        const int size = 200_000;
        var repo = Hub.AddRepo("org/norange").AddLfs("model.safetensors", size);
        int cdnGets = 0;
        Hub.Tamper = (request, response) =>
        {
            if (!request.IsCdn || request.Method != "GET")
            {
                return response;
            }

            int n = Interlocked.Increment(ref cdnGets);
            // First cut half-way; then answer the resume with the whole file (200), as a server without Range support does.
            return n == 1 ? response with { CutAfter = size / 2 }
                : new FakeResponse(200, repo.Files["model.safetensors"].Content);
        };

        FetchResult result = await FetchAsync(Settings(), new FetchRequest("org/norange"));

        Assert.That(cdnGets, Is.EqualTo(2));
        Assert.That(File.ReadAllBytes(Path.Combine(result.SnapshotPath, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"].Content));
    }

    [Test]
    public async Task BytesThatDoNotMatchTheirSha256_AreRefused_AndNothingEntersTheCache()
    {
        Hub.AddRepo("org/corrupt").AddLfs("model.safetensors", 50_000);
        Hub.Tamper = (request, response) =>
        {
            if (!request.IsCdn || response.Body.Length == 0)
            {
                return response;
            }

            byte[] flipped = [.. response.Body];
            flipped[flipped.Length / 2] ^= 0x01;
            return response with { Body = flipped };
        };

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest("org/corrupt")));

        Assert.That(error!.Message, Does.Contain("model.safetensors").And.Contain("org/corrupt").And.Contain("sha256"));
        string folder = RepoFolder("org/corrupt");
        Assert.That(FilesUnder(Path.Combine(folder, "blobs")), Is.Empty);
        Assert.That(FilesUnder(Path.Combine(folder, "snapshots")), Is.Empty);
        Assert.That(FilesUnder(Path.Combine(folder, "refs")), Is.Empty);
    }
}
