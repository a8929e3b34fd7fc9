using System.CommandLine;
using LlmMerge.Cli.Commands;

namespace LlmMerge.Hub.Tests;

/// <summary>The <c>fetch</c> verb run in-process against the fake Hub, with huggingface_hub's environment variables.</summary>
[NonParallelizable]
public sealed class FetchCommandTests : HubTestBase
{
    private static readonly string[] Variables = ["HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE"];
    private readonly Dictionary<string, string?> saved = [];

    [SetUp]
    public void PointTheEnvironmentAtTheFakeHub()
    {
        foreach (string name in Variables)
        {
            saved[name] = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, null);
        }

        Environment.SetEnvironmentVariable("HF_ENDPOINT", Hub.Endpoint.ToString());
        // A home of its own, so a developer's token file is never read or sent.
        Environment.SetEnvironmentVariable("HF_HOME", Path.Combine(TempDir, "hf-home"));
    }

    [TearDown]
    public void RestoreTheEnvironment()
    {
        foreach ((string name, string? value) in saved)
        {
            Environment.SetEnvironmentVariable(name, value);
        }
    }

    [Test]
    public async Task Fetch_PrintsTheSnapshotFolderLast_AndExitsZero()
    {
        var repo = Hub.AddRepo("org/model").AddText("config.json", "{}").AddLfs("model.safetensors", 10_000);

        (int code, string output, string error) = await RunAsync("fetch", "org/model", "--cache-dir", CacheDir);

        Assert.That(code, Is.EqualTo(0), error);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[^1].TrimEnd('\r'), Is.EqualTo(Path.Combine(RepoFolder("org/model"), "snapshots", repo.Commit)));
        Assert.That(File.Exists(Path.Combine(lines[^1].TrimEnd('\r'), "model.safetensors")), Is.True);
        Assert.That(error, Does.Contain("model.safetensors").And.Contain(repo.Commit));
    }

    [Test]
    public async Task Fetch_FromAMirrorThatCorruptsBytes_FailsWithOneLine_AndLeavesNoBlob()
    {
        // A stand-in for a mirror or HF_ENDPOINT proxy: LFS files redirect to /cdn/SHA256 on its own origin, no X-Linked-Etag.
        Hub.LfsRedirect = Fakes.LfsRedirect.SameOriginRelative;
        var repo = Hub.AddRepo("org/model").AddText("config.json", "{}").AddLfs("model.safetensors", 20_000);
        Hub.Tamper = (request, response) =>
        {
            if (request.Method != "GET" || !request.Path.StartsWith("/cdn/", StringComparison.Ordinal))
            {
                return response;
            }

            byte[] flipped = [.. response.Body];
            flipped[^1] ^= 0x01;
            return response with { Body = flipped };
        };

        (int code, string output, string error) = await RunAsync("fetch", "org/model", "--cache-dir", CacheDir);

        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(output, Is.Empty);
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("llmmerge", StringComparison.Ordinal)).ToArray();
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.Contain("model.safetensors").And.Contain("sha256"));
        string blobs = Path.Combine(RepoFolder("org/model"), "blobs");
        Assert.That(FilesUnder(blobs).Where(f => f.StartsWith(repo.Files["model.safetensors"].Sha256, StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public async Task Fetch_WithIncludeExcludeRevisionAndRepoType_PassesThemOn()
    {
        var repo = Hub.AddRepo("org/tasks", RepoType.Dataset)
            .AddText("a.csv", "x").AddText("b.csv", "y").AddText("c.jsonl", "{}").AddText("README.md", "#");

        (int code, string output, string error) = await RunAsync(
            "fetch", "org/tasks", "--repo-type", "dataset", "--revision", repo.Commit, "--cache-dir", CacheDir,
            "--include", "*.csv", "*.jsonl", "--exclude", "b.*");

        Assert.That(code, Is.EqualTo(0), error);
        string snapshot = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].TrimEnd('\r');
        Assert.That(snapshot, Is.EqualTo(Path.Combine(RepoFolder("org/tasks", "datasets"), "snapshots", repo.Commit)));
        Assert.That(FilesUnder(snapshot), Is.EqualTo(new[] { "a.csv", "c.jsonl" }));
    }

    [Test]
    public async Task Fetch_FromTheCacheDirOfHfHubCache_WhenOffline()
    {
        Hub.AddRepo("org/model").AddText("config.json", "{}");
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", CacheDir);
        Assert.That((await RunAsync("fetch", "org/model")).Code, Is.EqualTo(0));
        Hub.ClearRequests();
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");

        (int code, string output, string error) = await RunAsync("fetch", "org/model");

        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain(RepoFolder("org/model")));
        Assert.That(Hub.Requests, Is.Empty);
    }

    [Test]
    public async Task Fetch_OfAPrivateRepo_UsesHfToken_AndNeverPrintsIt()
    {
        const string token = "hf_CliSecretToken0123456789";
        Hub.AddRepo("org/private").AddText("config.json", "{}").RequiredToken = token;

        (int refusedCode, _, string refusedError) = await RunAsync("fetch", "org/private", "--cache-dir", CacheDir);
        Environment.SetEnvironmentVariable("HF_TOKEN", token);
        (int code, string output, string error) = await RunAsync("fetch", "org/private", "--cache-dir", CacheDir);

        Assert.That(refusedCode, Is.Not.EqualTo(0));
        Assert.That(refusedError, Does.Contain("org/private").And.Contain("HF_TOKEN"));
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output + error, Does.Not.Contain(token));
    }

    [Test]
    public async Task Fetch_OfAMissingRepo_FailsWithOneLineNamingIt()
    {
        (int code, string output, string error) = await RunAsync("fetch", "org/does-not-exist", "--cache-dir", CacheDir);

        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(output, Is.Empty);
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.Contain("org/does-not-exist").And.Contain("HF_TOKEN"));
    }

    [Test]
    public async Task Fetch_WithABadRepoId_FailsWithoutARequest()
    {
        (int code, _, string error) = await RunAsync("fetch", "../etc", "--cache-dir", CacheDir);

        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(error, Does.Contain("../etc"));
        Assert.That(Hub.Requests, Is.Empty);
    }

    [Test]
    public async Task Fetch_WithAnUnknownRepoType_IsAParseError()
    {
        (int code, _, string error) = await RunAsync("fetch", "org/model", "--repo-type", "space");

        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(error, Does.Contain("space"));
        Assert.That(Hub.Requests, Is.Empty);
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        var root = new RootCommand("llmmerge (test)") { FetchCommand.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
