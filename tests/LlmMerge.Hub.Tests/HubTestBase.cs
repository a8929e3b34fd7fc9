using LlmMerge.Hub.Tests.Fakes;

namespace LlmMerge.Hub.Tests;

/// <summary>A fake Hub on loopback and a temporary cache folder per test, both gone afterwards.</summary>
public abstract class HubTestBase
{
    /// <summary>The fake Hub of this test.</summary>
    protected FakeHub Hub { get; private set; } = null!;

    /// <summary>A temporary folder holding this test's cache.</summary>
    protected string TempDir { get; private set; } = null!;

    /// <summary>The cache folder (HF_HUB_CACHE) of this test.</summary>
    protected string CacheDir => Path.Combine(TempDir, "hub");

    [SetUp]
    public void StartHub()
    {
        TempDir = Path.Combine(Path.GetTempPath(), "llmmerge-hub-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(TempDir);
        Hub = new FakeHub();
    }

    [TearDown]
    public async Task StopHub()
    {
        await Hub.DisposeAsync();
        Directory.Delete(TempDir, recursive: true);
    }

    /// <summary>Settings pointing at the fake Hub, with short retry delays so fault tests stay fast.</summary>
    protected HubSettings Settings(string? token = null, bool offline = false) => new()
    {
        Endpoint = Hub.Endpoint,
        Token = token,
        CacheDir = CacheDir,
        Offline = offline,
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        ReadTimeout = TimeSpan.FromSeconds(20),
        ProgressInterval = TimeSpan.Zero,
    };

    /// <summary>Fetches with a fresh client.</summary>
    protected static async Task<FetchResult> FetchAsync(HubSettings settings, FetchRequest request, IProgress<FetchProgress>? progress = null)
    {
        using var client = new HubClient(settings);
        return await client.FetchAsync(request, progress);
    }

    /// <summary>The repository's folder in the cache.</summary>
    protected string RepoFolder(string repoId, string prefix = "models") => Path.Combine(CacheDir, $"{prefix}--{repoId.Replace("/", "--", StringComparison.Ordinal)}");

    /// <summary>Every file name under <paramref name="folder"/> (relative), or none when it does not exist.</summary>
    protected static string[] FilesUnder(string folder) =>
        Directory.Exists(folder)
            ? [.. Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories).Where(p => !Directory.Exists(p) || new DirectoryInfo(p).LinkTarget is not null).Select(p => Path.GetRelativePath(folder, p).Replace('\\', '/')).Order(StringComparer.Ordinal)]
            : [];

    /// <summary>Collects every progress report synchronously (Progress&lt;T&gt; would post them later).</summary>
    protected sealed class ProgressLog : IProgress<FetchProgress>
    {
        private readonly List<FetchProgress> reports = [];

        /// <summary>The reports so far.</summary>
        public IReadOnlyList<FetchProgress> Reports
        {
            get
            {
                lock (reports)
                {
                    return [.. reports];
                }
            }
        }

        /// <inheritdoc/>
        public void Report(FetchProgress value)
        {
            lock (reports)
            {
                reports.Add(value);
            }
        }
    }
}
