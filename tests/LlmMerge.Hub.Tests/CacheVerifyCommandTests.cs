using System.CommandLine;
using LlmMerge.Cli.Commands;

namespace LlmMerge.Hub.Tests;

/// <summary><c>llmmerge cache verify</c>, in-process, on caches filled from the fake Hub and then damaged on disk.</summary>
public sealed class CacheVerifyCommandTests : HubTestBase
{
    [Test]
    public async Task IntactCache_EveryLfsBlobMatches_ExitZero()
    {
        Hub.AddRepo("org/a").AddText("config.json", "{}").AddLfs("model.safetensors", 20_000);
        Hub.AddRepo("org/b").AddLfs("model-00001-of-00002.safetensors", 5_000, seed: 2).AddLfs("model-00002-of-00002.safetensors", 6_000, seed: 3);
        await FetchAsync(Settings(), new FetchRequest("org/a"));
        await FetchAsync(Settings(), new FetchRequest("org/b"));

        (int code, string output, string error) = await RunAsync("cache", "verify", "--cache-dir", CacheDir);

        Assert.That(code, Is.Zero, error);
        Assert.That(output, Is.Empty);
        // config.json is named by its git sha1: not a sha256, not counted.
        Assert.That(error, Does.Contain("3 sha256-named blobs of 2 repositories").And.Contain("3 match, 0 do not"));
    }

    [Test]
    public async Task FlippedByteOnDisk_IsReported_ExitNonZero_AndDeleteRemovesIt_SoTheNextFetchRestoresIt()
    {
        var repo = Hub.AddRepo("org/a").AddLfs("model.safetensors", 20_000).AddLfs("extra.safetensors", 3_000, seed: 9);
        FetchResult fetched = await FetchAsync(Settings(), new FetchRequest("org/a"));
        string sha = repo.Files["model.safetensors"].Sha256;
        string blob = Path.Combine(RepoFolder("org/a"), "blobs", sha);
        byte[] bytes = File.ReadAllBytes(blob);
        bytes[^1] ^= 0x01;
        File.WriteAllBytes(blob, bytes);

        (int code, string output, string error) = await RunAsync("cache", "verify", "org/a", "--cache-dir", CacheDir);

        Assert.That(code, Is.Not.Zero);
        Assert.That(output.Trim(), Does.StartWith("mismatch org/a").And.Contain(sha).And.Not.Contain(repo.Files["extra.safetensors"].Sha256));
        Assert.That(error, Does.Contain("1 blob(s)").And.Contain("--delete"));
        Assert.That(File.Exists(blob), Is.True, "without --delete nothing is removed");

        (int deleteCode, string deleteOutput, string deleteError) = await RunAsync("cache", "verify", "org/a", "--delete", "--cache-dir", CacheDir);

        Assert.That(deleteCode, Is.Zero, deleteError);
        Assert.That(deleteOutput.Trim(), Does.StartWith("deleted org/a").And.Contain(sha));
        Assert.That(File.Exists(blob), Is.False);
        Assert.That(File.Exists(Path.Combine(RepoFolder("org/a"), "blobs", repo.Files["extra.safetensors"].Sha256)), Is.True);

        Hub.ClearRequests();
        FetchResult again = await FetchAsync(Settings(), new FetchRequest("org/a"));
        Assert.That(again.Files.Where(f => f.Downloaded).Select(f => f.Path), Is.EqualTo(new[] { "model.safetensors" }));
        Assert.That(File.ReadAllBytes(Path.Combine(fetched.SnapshotPath, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"].Content));
        Assert.That((await RunAsync("cache", "verify", "--cache-dir", CacheDir)).Code, Is.Zero);
    }

    [Test]
    public async Task NamedRepos_AreTheOnlyOnesRead_AndDatasetsNeedTheirType()
    {
        Hub.AddRepo("org/a").AddLfs("model.safetensors", 2_000);
        Hub.AddRepo("org/tasks", RepoType.Dataset).AddLfs("data.parquet", 4_000);
        await FetchAsync(Settings(), new FetchRequest("org/a"));
        await FetchAsync(Settings(), new FetchRequest("org/tasks") { RepoType = RepoType.Dataset });
        string blob = Path.Combine(RepoFolder("org/a"), "blobs", Hub.Repo("org/a").Files["model.safetensors"].Sha256);
        File.WriteAllBytes(blob, [1, 2, 3]);

        (int code, _, string error) = await RunAsync("cache", "verify", "org/tasks", "--repo-type", "dataset", "--cache-dir", CacheDir);
        (int wrongType, _, string wrongTypeError) = await RunAsync("cache", "verify", "org/tasks", "--cache-dir", CacheDir);

        Assert.That(code, Is.Zero, error);
        Assert.That(error, Does.Contain("1 sha256-named blobs of 1 repositories"));
        Assert.That(wrongType, Is.Not.Zero);
        Assert.That(wrongTypeError.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(wrongTypeError, Does.Contain("model org/tasks is not in the Hub cache").And.Contain("--repo-type"));
    }

    [Test]
    public async Task MissingCacheFolder_IsOneLineNamingIt()
    {
        string missing = Path.Combine(TempDir, "no-cache-here");

        (int code, string output, string error) = await RunAsync("cache", "verify", "--cache-dir", missing);

        Assert.That(code, Is.Not.Zero);
        Assert.That(output, Is.Empty);
        Assert.That(error.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error, Does.Contain(missing));
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        var root = new RootCommand("llmmerge (test)") { CacheCommand.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
