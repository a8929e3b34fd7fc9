using LlmMerge.Core;

namespace LlmMerge.Hub.Tests;

/// <summary>HF_HUB_OFFLINE: the cache answers, or the error says how to fill it; the network is never touched.</summary>
public sealed class OfflineTests : HubTestBase
{
    [Test]
    public async Task WarmCache_ServesTheSnapshot_WithoutAnyRequest()
    {
        var repo = Hub.AddRepo("org/model").AddText("config.json", "{}").AddLfs("model.safetensors", 5000);
        FetchResult online = await FetchAsync(Settings(), new FetchRequest("org/model"));
        Hub.ClearRequests();

        FetchResult byBranch = await FetchAsync(Settings(offline: true), new FetchRequest("org/model"));
        FetchResult byCommit = await FetchAsync(Settings(offline: true), new FetchRequest("org/model") { Revision = repo.Commit });

        Assert.That(Hub.Requests, Is.Empty);
        Assert.That(byBranch.Commit, Is.EqualTo(repo.Commit));
        Assert.That(byBranch.SnapshotPath, Is.EqualTo(online.SnapshotPath));
        Assert.That(byCommit.SnapshotPath, Is.EqualTo(online.SnapshotPath));
        Assert.That(byBranch.Files.Select(f => f.Path), Is.EquivalentTo(new[] { "config.json", "model.safetensors" }));
        Assert.That(byBranch.Files.Single(f => f.Path == "model.safetensors").Sha256, Is.EqualTo(repo.Files["model.safetensors"].Sha256));
    }

    [Test]
    public async Task ColdCache_FailsClearly_WithoutAnyRequest()
    {
        Hub.AddRepo("org/model").AddText("config.json", "{}");

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(offline: true), new FetchRequest("org/model") { Revision = "v1.0" }));

        Assert.That(error!.Message, Does.Contain("org/model").And.Contain("v1.0").And.Contain("HF_HUB_OFFLINE").And.Contain("not in the cache"));
        Assert.That(Hub.Requests, Is.Empty);
    }
}
