using LlmMerge.Core;

namespace LlmMerge.Hub.Tests;

/// <summary>404s say which repository, revision or file is missing.</summary>
public sealed class NotFoundTests : HubTestBase
{
    [Test]
    public async Task UnknownRevision_NamesTheRevision()
    {
        Hub.AddRepo("org/model").AddText("config.json", "{}");

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest("org/model") { Revision = "no-such-branch" }));

        Assert.That(error!.Message, Does.Contain("org/model").And.Contain("no-such-branch").And.Contain("revision"));
    }

    [Test]
    public async Task ListedFileThatIsMissing_NamesTheFile()
    {
        var repo = Hub.AddRepo("org/model").AddText("config.json", "{}");
        repo.ExtraListedNames.Add("tokenizer.json");

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest("org/model")));

        Assert.That(error!.Message, Does.Contain("tokenizer.json").And.Contain("org/model").And.Contain("not found"));
    }

    [Test]
    public async Task NothingSelected_SaysSoAndHowToChoose()
    {
        Hub.AddRepo("org/model").AddText("config.json", "{}");

        var error = await Assert.ThrowsAsync<LlmMergeException>(() => FetchAsync(Settings(), new FetchRequest("org/model") { Include = ["*.gguf"] }));

        Assert.That(error!.Message, Does.Contain("org/model").And.Contain("--include"));
    }
}
