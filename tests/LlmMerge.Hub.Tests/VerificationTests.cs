using LlmMerge.Core;
using LlmMerge.Hub.Tests.Fakes;

namespace LlmMerge.Hub.Tests;

/// <summary>
/// A blob named by a sha256 holds bytes with that sha256, however the name reached us (X-Linked-Etag on the Hub's
/// redirect, or the ETag of a mirror's own /cdn/ path) and however the bytes arrived (whole, resumed, restarted).
/// </summary>
public sealed class VerificationTests : HubTestBase
{
    private const string Repo = "org/model";
    private const string File = "model.safetensors";

    [TestCase(LfsRedirect.CrossOrigin)]
    [TestCase(LfsRedirect.SameOriginRelative)]
    [TestCase(LfsRedirect.SameOriginAbsolute)]
    public async Task CleanBytes_BehindEachRedirect_EnterTheCacheUnderTheirSha256(LfsRedirect redirect)
    {
        Hub.LfsRedirect = redirect;
        var repo = Hub.AddRepo(Repo).AddText("config.json", "{}").AddLfs(File, 30_000);
        string sha = repo.Files[File].Sha256;

        FetchResult result = await FetchAsync(Settings(), new FetchRequest(Repo));

        Assert.That(System.IO.File.ReadAllBytes(Path.Combine(result.SnapshotPath, File)), Is.EqualTo(repo.Files[File].Content));
        Assert.That(System.IO.File.Exists(Path.Combine(RepoFolder(Repo), "blobs", sha)), Is.True);
        // huggingface_hub's HEAD follows a relative Location and stops at one that names a host, even its own.
        var cdnHeads = Hub.Requests.Where(r => r.Method == "HEAD" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).ToList();
        Assert.That(cdnHeads, Has.Count.EqualTo(redirect == LfsRedirect.SameOriginRelative ? 1 : 0));
    }

    [TestCase(LfsRedirect.CrossOrigin)]
    [TestCase(LfsRedirect.SameOriginRelative)]
    [TestCase(LfsRedirect.SameOriginAbsolute)]
    public async Task FlippedLastByte_BehindEachRedirect_IsRefused_AndLeavesNoBlob(LfsRedirect redirect)
    {
        Hub.LfsRedirect = redirect;
        Hub.AddRepo(Repo).AddText("config.json", "{}").AddLfs(File, 30_000);
        Hub.Tamper = (request, response) => IsBlobGet(request) ? response with { Body = Flip(response.Body, response.Body.Length - 1) } : response;

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest(Repo)));

        Assert.That(error!.Message, Does.Contain(File).And.Contain(Repo).And.Contain("sha256").And.Contain("nothing entered the cache"));
        AssertNoBlob();
    }

    [TestCase(LfsRedirect.CrossOrigin)]
    [TestCase(LfsRedirect.SameOriginRelative)]
    public async Task ResumedTransfer_WhoseRestIsCorrupt_IsRefused_AndTheIncompleteFileDeleted(LfsRedirect redirect)
    {
        const int size = 200_000;
        const int cut = 80_000;
        Hub.LfsRedirect = redirect;
        Hub.AddRepo(Repo).AddLfs(File, size);
        int gets = 0;
        // The first body is clean but cut; the resumed rest has one byte flipped.
        Hub.Tamper = (request, response) => !IsBlobGet(request) ? response
            : Interlocked.Increment(ref gets) == 1 ? response with { CutAfter = cut }
            : response with { Body = Flip(response.Body, 10) };

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest(Repo)));

        var blobGets = Hub.Requests.Where(IsBlobGet).ToList();
        Assert.That(blobGets.Select(r => r.Header("Range")), Is.EqualTo(new[] { null, $"bytes={cut}-" }), "the second GET resumed");
        Assert.That(blobGets[1].Status, Is.EqualTo(206));
        Assert.That(error!.Message, Does.Contain(File).And.Contain("sha256"));
        AssertNoBlob();
    }

    [TestCase(LfsRedirect.CrossOrigin)]
    [TestCase(LfsRedirect.SameOriginRelative)]
    public async Task CorruptPartialDownloadOfAnEarlierRun_IsResumed_ThenRefused_AndTheNextFetchSucceeds(LfsRedirect redirect)
    {
        const int size = 100_000;
        Hub.LfsRedirect = redirect;
        var repo = Hub.AddRepo(Repo).AddLfs(File, size);
        string sha = repo.Files[File].Sha256;
        // As after a run cut off by a proxy that had already flipped a byte of the prefix.
        string incomplete = Path.Combine(RepoFolder(Repo), "blobs", sha + ".incomplete");
        Directory.CreateDirectory(Path.GetDirectoryName(incomplete)!);
        System.IO.File.WriteAllBytes(incomplete, Flip(repo.Files[File].Content[..40_000], 123));

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest(Repo)));

        Assert.That(Hub.Requests.Where(IsBlobGet).Select(r => r.Header("Range")), Is.EqualTo(new[] { "bytes=40000-" }));
        Assert.That(error!.Message, Does.Contain("sha256"));
        AssertNoBlob();

        FetchResult result = await FetchAsync(Settings(), new FetchRequest(Repo));
        Assert.That(System.IO.File.ReadAllBytes(Path.Combine(result.SnapshotPath, File)), Is.EqualTo(repo.Files[File].Content));
    }

    [TestCase(LfsRedirect.CrossOrigin)]
    [TestCase(LfsRedirect.SameOriginRelative)]
    public async Task RestartedTransfer_WithCorruptBytes_IsRefused(LfsRedirect redirect)
    {
        const int size = 150_000;
        Hub.LfsRedirect = redirect;
        var repo = Hub.AddRepo(Repo).AddLfs(File, size);
        byte[] content = repo.Files[File].Content;
        int gets = 0;
        // Cut half-way, then the resume is answered with the whole file (200: Range ignored), one byte flipped.
        Hub.Tamper = (request, response) => !IsBlobGet(request) ? response
            : Interlocked.Increment(ref gets) == 1 ? response with { CutAfter = size / 2 }
            : new FakeResponse(200, Flip(content, size - 1));

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest(Repo)));

        Assert.That(gets, Is.EqualTo(2));
        Assert.That(error!.Message, Does.Contain(File).And.Contain("sha256"));
        AssertNoBlob();
    }

    [TestCase(LfsRedirect.CrossOrigin)]
    [TestCase(LfsRedirect.SameOriginRelative)]
    public async Task RestartedTransfer_AfterACorruptPrefix_HashesOnlyTheNewBytes_AndSucceeds(LfsRedirect redirect)
    {
        const int size = 120_000;
        Hub.LfsRedirect = redirect;
        var repo = Hub.AddRepo(Repo).AddLfs(File, size);
        byte[] content = repo.Files[File].Content;
        string incomplete = Path.Combine(RepoFolder(Repo), "blobs", repo.Files[File].Sha256 + ".incomplete");
        Directory.CreateDirectory(Path.GetDirectoryName(incomplete)!);
        System.IO.File.WriteAllBytes(incomplete, Flip(content[..50_000], 7));
        // The server ignores Range and sends the whole, clean file: the bad prefix must be dropped, not hashed on.
        Hub.Tamper = (request, response) => IsBlobGet(request) ? new FakeResponse(200, content) : response;

        FetchResult result = await FetchAsync(Settings(), new FetchRequest(Repo));

        Assert.That(Hub.Requests.Where(IsBlobGet).Select(r => r.Header("Range")), Is.EqualTo(new[] { "bytes=50000-" }));
        Assert.That(System.IO.File.ReadAllBytes(Path.Combine(result.SnapshotPath, File)), Is.EqualTo(content));
    }

    [Test]
    public async Task SmallGitFile_NamedByItsGitSha1_IsNotHashedAsSha256()
    {
        // A git blob id is 40 hex digits: nothing to compare a sha256 with, so a mirror's rewritten text still enters.
        Hub.AddRepo(Repo).AddText("config.json", "{\"a\": 1}");
        Hub.Tamper = (request, response) => request.Method == "GET" && request.Path.EndsWith("config.json", StringComparison.Ordinal)
            ? response with { Body = Flip(response.Body, 0) }
            : response;

        FetchResult result = await FetchAsync(Settings(), new FetchRequest(Repo));

        Assert.That(result.Files.Single().Etag, Has.Length.EqualTo(40));
    }

    private static bool IsBlobGet(RecordedRequest request) => request.Method == "GET" && request.Path.StartsWith("/cdn/", StringComparison.Ordinal);

    private static byte[] Flip(byte[] bytes, int at)
    {
        byte[] copy = [.. bytes];
        copy[at] ^= 0x80;
        return copy;
    }

    // Neither the blob of the LFS file nor its .incomplete, no snapshot entry for it, no ref.
    private void AssertNoBlob()
    {
        string folder = RepoFolder(Repo);
        string sha = Hub.Repo(Repo).Files[File].Sha256;
        Assert.That(FilesUnder(Path.Combine(folder, "blobs")).Where(f => f.StartsWith(sha, StringComparison.Ordinal)), Is.Empty, "no blob and no .incomplete");
        Assert.That(FilesUnder(Path.Combine(folder, "snapshots")).Where(f => f.EndsWith(File, StringComparison.Ordinal)), Is.Empty);
        Assert.That(FilesUnder(Path.Combine(folder, "refs")), Is.Empty);
    }
}
