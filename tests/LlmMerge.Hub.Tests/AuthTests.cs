using LlmMerge.Core;

namespace LlmMerge.Hub.Tests;

/// <summary>Private and gated repositories: the token opens them and goes nowhere but the Hub.</summary>
public sealed class AuthTests : HubTestBase
{
    private const string Token = "hf_TestSecretToken0123456789";

    [Test]
    public async Task PrivateRepo_WithoutToken_SaysSetHfToken()
    {
        Hub.AddRepo("org/private").AddText("config.json", "{}").RequiredToken = Token;

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest("org/private")));

        Assert.That(error!.Message, Does.Contain("org/private").And.Contain("HF_TOKEN").And.Contain("private or gated").And.Contain("license"));
        Assert.That(Directory.Exists(Path.Combine(RepoFolder("org/private"), "snapshots")), Is.False);
    }

    [Test]
    public async Task PrivateRepo_WithToken_Succeeds_AndTheTokenIsNeverSentToTheCdnHost()
    {
        var repo = Hub.AddRepo("org/private").AddText("config.json", "{}").AddLfs("model.safetensors", 20_000);
        repo.RequiredToken = Token;

        FetchResult result = await FetchAsync(Settings(Token), new FetchRequest("org/private"));

        Assert.That(File.ReadAllBytes(Path.Combine(result.SnapshotPath, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"].Content));
        var hubRequests = Hub.Requests.Where(r => !r.IsCdn).ToList();
        var cdnRequests = Hub.Requests.Where(r => r.IsCdn).ToList();
        Assert.That(cdnRequests, Is.Not.Empty, "the LFS file must have been redirected to the other host");
        Assert.That(hubRequests.Select(r => r.Header("Authorization")), Has.All.EqualTo($"Bearer {Token}"));
        Assert.That(cdnRequests.Select(r => r.Header("Authorization")), Has.All.Null);
    }

    [Test]
    public async Task RefusedToken_NeverAppearsInTheError_EvenWhenTheServerEchoesIt()
    {
        Hub.AddRepo("org/private").AddText("config.json", "{}").RequiredToken = "hf_TheRightOne0123456789";
        Hub.Tamper = (request, response) => response.Status == 401
            ? Fakes.FakeResponse.Empty(403, ("X-Error-Message", $"token {request.Header("Authorization")} has no access"))
            : response;

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(Token), new FetchRequest("org/private")));

        Assert.That(error!.Message, Does.Contain("org/private").And.Contain("HF_TOKEN"));
        Assert.That(error.ToString(), Does.Not.Contain(Token).And.Not.Contain("TestSecretToken"));
    }

    [Test]
    public void Settings_ToString_HidesTheToken()
    {
        Assert.That(Settings(Token).ToString(), Does.Not.Contain(Token).And.Contain("***"));
    }
}
