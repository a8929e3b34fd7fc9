using LlmMerge.Core;

namespace LlmMerge.Hub.Tests;

/// <summary>Names from the Hub or the user never place a file outside the cache.</summary>
public sealed class SecurityTests : HubTestBase
{
    [TestCase("../escape.json")]
    [TestCase("sub/../../escape.json")]
    [TestCase("/etc/escape.json")]
    [TestCase("sub\\escape.json")]
    [TestCase("C:/escape.json")]
    [TestCase("./config.json")]
    public async Task UnsafeSiblingName_IsRefused_AndNothingIsWritten(string name)
    {
        var repo = Hub.AddRepo("org/evil").AddText("config.json", "{}");
        repo.ExtraListedNames.Add(name);

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest("org/evil") { Include = ["*"] }));

        Assert.That(error!.Message, Does.Contain(name).And.Contain("org/evil").And.Contain("outside the snapshot"));
        Assert.That(FilesUnder(TempDir), Is.Empty);
        Assert.That(Hub.Requests.Select(r => r.Path), Has.All.StartsWith("/api/"));
    }

    [TestCase("../org/name")]
    [TestCase("org/name/extra")]
    [TestCase("org\\name")]
    [TestCase("/org/name")]
    [TestCase("org--x/name")]
    [TestCase("")]
    public async Task UnsafeRepoId_IsRefused_BeforeAnyRequest(string repoId)
    {
        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest(repoId)));

        Assert.That(error!.Message, Does.Contain("ORG/NAME"));
        Assert.That(Hub.Requests, Is.Empty);
    }

    [TestCase("../../x")]
    [TestCase("/abs")]
    [TestCase("a\\b")]
    [TestCase("")]
    public async Task UnsafeRevision_IsRefused_BeforeAnyRequest(string revision)
    {
        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest("org/name") { Revision = revision }));

        Assert.That(error!.Message, Does.Contain("org/name").And.Contain("revision"));
        Assert.That(Hub.Requests, Is.Empty);
    }

    [Test]
    public async Task UnsafeEtag_IsRefused()
    {
        Hub.AddRepo("org/model").AddText("config.json", "{}");
        Hub.Tamper = (request, response) =>
        {
            if (request.Method == "HEAD")
            {
                response.Headers["ETag"] = "\"../../../evil\"";
            }

            return response;
        };

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest("org/model")));

        Assert.That(error!.Message, Does.Contain("config.json").And.Contain("ETag"));
        Assert.That(FilesUnder(TempDir), Is.Empty);
    }
}
