using System.CommandLine;
using System.Globalization;
using LlmMerge.Core;
using LlmMerge.Hub;

namespace LlmMerge.Cli.Commands;

/// <summary>The <c>cache</c> verb: checks on the shared Hugging Face cache. <c>cache verify</c> rehashes its sha256-named blobs.</summary>
public static class CacheCommand
{
    /// <summary>Builds <c>cache verify [REPO_ID...] [--delete] [--cache-dir DIR] [--repo-type model|dataset]</c>.</summary>
    public static Command Create()
    {
        var command = new Command("cache", "Look after the shared Hugging Face cache.");
        command.Subcommands.Add(CreateVerify());
        return command;
    }

    private static Command CreateVerify()
    {
        var repoIds = new Argument<string[]>("repo-id")
        {
            Description = "Repositories (ORG/NAME) to check; every repository of the cache when none is given.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var delete = new Option<bool>("--delete") { Description = "Remove every blob whose bytes do not match its sha256; the next fetch downloads it again." };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Hub cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub)." };
        var repoType = new Option<string>("--repo-type")
        {
            Description = "Kind of the repositories named: model or dataset.",
            DefaultValueFactory = _ => "model",
        };
        repoType.AcceptOnlyFromAmong("model", "dataset");

        var command = new Command("verify", "Rehash every blob of the cache that is named by a sha256 (LFS files) and report those whose bytes do not match; exits non-zero when one is left.")
        {
            repoIds, delete, cacheDir, repoType,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            TextWriter error = parseResult.InvocationConfiguration.Error;
            bool remove = parseResult.GetValue(delete);
            try
            {
                HubSettings settings = HubSettings.FromEnvironment();
                if (parseResult.GetValue(cacheDir) is { Length: > 0 } dir)
                {
                    settings = settings with { CacheDir = dir };
                }

                RepoType type = parseResult.GetValue(repoType) == "dataset" ? RepoType.Dataset : RepoType.Model;
                var verifier = new CacheVerifier(settings);
                // One line per blob that does not match, on standard output, as it is found.
                var report = new SyncProgress(v =>
                {
                    if (!v.Matches)
                    {
                        output.WriteLine($"{(v.Deleted ? "deleted" : "mismatch")} {v.RepoId} {v.BlobPath}: {v.Size} bytes with sha256 {v.Actual}");
                    }
                });
                IReadOnlyList<BlobVerification> results = await verifier.VerifyAsync(parseResult.GetValue(repoIds) ?? [], type, remove, report, cancellationToken);

                var bad = results.Where(r => !r.Matches).ToList();
                int repos = results.Select(r => (r.RepoId, r.RepoType)).Distinct().Count();
                string bytes = (results.Sum(r => r.Size) / 1e9).ToString("0.###", CultureInfo.InvariantCulture);
                await error.WriteLineAsync($"cache verify: {results.Count} sha256-named blobs of {repos} repositories ({bytes} GB) rehashed: {results.Count - bad.Count} match, {bad.Count} do not{(remove && bad.Count > 0 ? " and were deleted" : "")}.");
                if (bad.Count > 0 && !remove)
                {
                    string which = string.Join(", ", bad.Take(3).Select(b => $"{b.RepoId} {Path.GetFileName(b.BlobPath)}")) + (bad.Count > 3 ? $" and {bad.Count - 3} more" : "");
                    await error.WriteLineAsync($"llmmerge cache verify: {bad.Count} blob(s) of {settings.CacheDir} do not hash to their names ({which}): run `llmmerge cache verify --delete` to remove them, then fetch again.");
                    return 1;
                }

                return 0;
            }
            catch (LlmMergeException e)
            {
                await error.WriteLineAsync($"llmmerge cache verify: {OneLine(e.Message)}");
                return 1;
            }
            catch (IOException e)
            {
                await error.WriteLineAsync($"llmmerge cache verify: {OneLine(e.Message)}");
                return 1;
            }
        });
        return command;
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries));

    // Progress<T> posts to the thread pool; these lines must be written before the summary.
    private sealed class SyncProgress(Action<BlobVerification> report) : IProgress<BlobVerification>
    {
        public void Report(BlobVerification value) => report(value);
    }
}
