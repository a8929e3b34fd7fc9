using LlmMerge.Core;

namespace LlmMerge.Hub.Tests;

/// <summary>huggingface_hub's environment variables and their defaults.</summary>
public sealed class HubSettingsTests
{
    private string tempDir = null!;

    [SetUp]
    public void CreateTemp()
    {
        tempDir = Path.Combine(Path.GetTempPath(), "llmmerge-hub-settings-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(tempDir);
    }

    [TearDown]
    public void DeleteTemp() => Directory.Delete(tempDir, recursive: true);

    [Test]
    public void Defaults_FollowHuggingfaceHub()
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

        HubSettings settings = HubSettings.FromEnvironment(_ => null);

        Assert.That(settings.Endpoint, Is.EqualTo(new Uri("https://huggingface.co")));
        Assert.That(settings.CacheDir, Is.EqualTo(Path.Combine(home, ".cache", "huggingface", "hub")));
        Assert.That(settings.Offline, Is.False);
        Assert.That(settings.Token, Is.Null.Or.Not.Empty);
    }

    [Test]
    public void Variables_OverrideTheDefaults()
    {
        var env = new Dictionary<string, string>
        {
            ["HF_ENDPOINT"] = "https://mirror.example/",
            ["HF_HOME"] = tempDir,
            ["HF_HUB_CACHE"] = Path.Combine(tempDir, "elsewhere"),
            ["HF_TOKEN"] = "hf_fromEnvironment123",
            ["HF_HUB_OFFLINE"] = "1",
        };

        HubSettings settings = HubSettings.FromEnvironment(env.GetValueOrDefault);

        Assert.That(settings.Endpoint.ToString().TrimEnd('/'), Is.EqualTo("https://mirror.example"));
        Assert.That(settings.CacheDir, Is.EqualTo(Path.Combine(tempDir, "elsewhere")));
        Assert.That(settings.Token, Is.EqualTo("hf_fromEnvironment123"));
        Assert.That(settings.Offline, Is.True);
    }

    [Test]
    public void TokenFile_UnderHfHome_IsRead_AndTheCacheDefaultsToHfHomeHub()
    {
        File.WriteAllText(Path.Combine(tempDir, "token"), "hf_fromTokenFile456\n");
        var env = new Dictionary<string, string> { ["HF_HOME"] = tempDir, ["HF_HUB_OFFLINE"] = "0" };

        HubSettings settings = HubSettings.FromEnvironment(env.GetValueOrDefault);

        Assert.That(settings.Token, Is.EqualTo("hf_fromTokenFile456"));
        Assert.That(settings.CacheDir, Is.EqualTo(Path.Combine(tempDir, "hub")));
        Assert.That(settings.Offline, Is.False);
    }

    [Test]
    public void EndpointThatIsNotHttp_IsRefused()
    {
        var error = Assert.Throws<LlmMergeException>(() => HubSettings.FromEnvironment(name => name == "HF_ENDPOINT" ? "ftp://x" : null));

        Assert.That(error!.Message, Does.Contain("HF_ENDPOINT"));
    }
}
