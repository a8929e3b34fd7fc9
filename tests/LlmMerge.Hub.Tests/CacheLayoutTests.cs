using System.Text;

namespace LlmMerge.Hub.Tests;

/// <summary>The cache the client writes is huggingface_hub's, file by file.</summary>
public sealed class CacheLayoutTests : HubTestBase
{
    [Test]
    public async Task Fetch_WritesBlobsSnapshotSymlinksAndRefs_AsHuggingfaceHub()
    {
        var repo = Hub.AddRepo("org/tiny-model")
            .AddLfs("model.safetensors", 300_000)
            .AddText("config.json", "{\"model_type\":\"llama\"}")
            .AddText("tokenizer.json", "{\"version\":\"1.0\"}")
            .AddText("merges.txt", "a b\n")
            .AddText("sub/folder/nested.json", "{}")
            .AddLfs("pytorch_model.bin", 1000, seed: 2)
            .AddLfs("model.gguf", 1000, seed: 3)
            .AddText(".gitattributes", "*.safetensors filter=lfs");

        FetchResult result = await FetchAsync(Settings(), new FetchRequest("org/tiny-model"));

        string folder = RepoFolder("org/tiny-model");
        string[] expected = ["config.json", "merges.txt", "model.safetensors", "sub/folder/nested.json", "tokenizer.json"];
        Assert.That(result.Commit, Is.EqualTo(repo.Commit));
        Assert.That(result.SnapshotPath, Is.EqualTo(Path.Combine(folder, "snapshots", repo.Commit)));
        Assert.That(result.Files.Select(f => f.Path).Order(StringComparer.Ordinal), Is.EqualTo(expected));

        // refs/main holds the bare commit.
        Assert.That(File.ReadAllText(Path.Combine(folder, "refs", "main")), Is.EqualTo(repo.Commit));

        // blobs/ holds exactly one blob per selected file, named by its etag: sha256 for LFS, git blob id otherwise.
        Assert.That(FilesUnder(Path.Combine(folder, "blobs")), Is.EqualTo(expected.Select(n => repo.Files[n].Etag).Order(StringComparer.Ordinal)));
        Assert.That(repo.Files["model.safetensors"].Etag, Has.Length.EqualTo(64));
        Assert.That(repo.Files["config.json"].Etag, Has.Length.EqualTo(40));

        // snapshots/COMMIT/PATH are relative symlinks into ../../blobs (one more ../ per folder level).
        Assert.That(FilesUnder(result.SnapshotPath), Is.EqualTo(expected));
        foreach (string name in expected)
        {
            string link = Path.Combine(result.SnapshotPath, name);
            int depth = name.Count(c => c == '/');
            string target = string.Concat(Enumerable.Repeat("../", depth + 2)) + "blobs/" + repo.Files[name].Etag;
            var info = new FileInfo(link);
            Assert.That(info.LinkTarget, Is.EqualTo(target), name);
            Assert.That(info.ResolveLinkTarget(returnFinalTarget: true)!.FullName, Is.EqualTo(Path.Combine(folder, "blobs", repo.Files[name].Etag)), name);
            Assert.That(File.ReadAllBytes(link), Is.EqualTo(repo.Files[name].Content), name);
        }

        FetchedFile weights = result.Files.Single(f => f.Path == "model.safetensors");
        Assert.That(weights.Sha256, Is.EqualTo(repo.Files["model.safetensors"].Sha256));
        Assert.That(weights.Size, Is.EqualTo(300_000));
        Assert.That(weights.Downloaded, Is.True);
        Assert.That(result.Files.Single(f => f.Path == "config.json").Sha256, Is.Null);
        Assert.That(Directory.EnumerateDirectories(folder).Select(Path.GetFileName), Is.EquivalentTo(new[] { "blobs", "refs", "snapshots" }));
    }

    [Test]
    public async Task Fetch_OfADataset_UsesTheDatasetEndpointsAndFolder()
    {
        var repo = Hub.AddRepo("org/tasks", RepoType.Dataset)
            .AddText("data/test.csv", "id,question\n1,q\n")
            .AddLfs("data/train.parquet", 5000);

        FetchResult result = await FetchAsync(Settings(), new FetchRequest("org/tasks") { RepoType = RepoType.Dataset });

        string folder = RepoFolder("org/tasks", "datasets");
        Assert.That(result.SnapshotPath, Is.EqualTo(Path.Combine(folder, "snapshots", repo.Commit)));
        Assert.That(File.ReadAllText(Path.Combine(result.SnapshotPath, "data", "test.csv"), Encoding.UTF8), Does.StartWith("id,question"));
        Assert.That(new FileInfo(Path.Combine(result.SnapshotPath, "data", "train.parquet")).LinkTarget, Is.EqualTo("../../../blobs/" + repo.Files["data/train.parquet"].Sha256));
        Assert.That(Hub.Requests.Where(r => !r.IsCdn).Select(r => r.Path), Has.All.StartWith("/api/datasets/org/tasks/").Or.StartWith("/datasets/org/tasks/resolve/"));
    }

    [Test]
    public async Task Fetch_ByCommit_WritesNoRef()
    {
        var repo = Hub.AddRepo("org/pinned").AddText("config.json", "{}");

        FetchResult result = await FetchAsync(Settings(), new FetchRequest("org/pinned") { Revision = repo.Commit });

        Assert.That(result.Commit, Is.EqualTo(repo.Commit));
        Assert.That(Directory.Exists(Path.Combine(RepoFolder("org/pinned"), "refs")), Is.False);
    }

    [Test]
    public async Task Fetch_TwoNamesWithTheSameContent_ShareOneBlob()
    {
        var repo = Hub.AddRepo("org/twins").AddLfs("a.safetensors", 2000, seed: 7).AddLfs("b.safetensors", 2000, seed: 7);

        FetchResult result = await FetchAsync(Settings(), new FetchRequest("org/twins"));

        Assert.That(FilesUnder(Path.Combine(RepoFolder("org/twins"), "blobs")), Is.EqualTo(new[] { repo.Files["a.safetensors"].Sha256 }));
        Assert.That(File.ReadAllBytes(Path.Combine(result.SnapshotPath, "b.safetensors")), Is.EqualTo(repo.Files["b.safetensors"].Content));
        Assert.That(Hub.Requests.Count(r => r.IsCdn && r.Method == "GET"), Is.EqualTo(1));
    }
}
