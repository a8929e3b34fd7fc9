using System.CommandLine;
using LlmMerge.Core;
using LlmMerge.Hub;

namespace LlmMerge.Cli.Commands;

/// <summary>The <c>fetch</c> verb: downloads a Hub repository into the Hugging Face cache and prints its snapshot folder.</summary>
public static class FetchCommand
{
    /// <summary>Builds <c>fetch REPO_ID [--revision REV] [--cache-dir DIR] [--include GLOB ...] [--exclude GLOB ...] [--repo-type model|dataset]</c>.</summary>
    public static Command Create()
    {
        var repoId = new Argument<string>("repo-id") { Description = "The repository, ORG/NAME (e.g. Qwen/Qwen2.5-0.5B)." };
        var revision = new Option<string?>("--revision") { Description = "Branch, tag or commit to fetch (default: main)." };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Hub cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub)." };
        var include = new Option<string[]>("--include")
        {
            Description = "Fetch only files matching these globs (fnmatch, as huggingface_hub's allow_patterns); replaces the default selection.",
            AllowMultipleArgumentsPerToken = true,
        };
        var exclude = new Option<string[]>("--exclude")
        {
            Description = "Skip files matching these globs (fnmatch, as huggingface_hub's ignore_patterns).",
            AllowMultipleArgumentsPerToken = true,
        };
        var repoType = new Option<string>("--repo-type")
        {
            Description = "Kind of repository: model or dataset.",
            DefaultValueFactory = _ => "model",
        };
        repoType.AcceptOnlyFromAmong("model", "dataset");

        var command = new Command("fetch", "Download a Hugging Face repository into the shared Hugging Face cache; prints the snapshot folder last.")
        {
            repoId, revision, cacheDir, include, exclude, repoType,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            TextWriter error = parseResult.InvocationConfiguration.Error;
            string id = parseResult.GetValue(repoId) ?? "";
            try
            {
                HubSettings settings = HubSettings.FromEnvironment();
                if (parseResult.GetValue(cacheDir) is { Length: > 0 } dir)
                {
                    settings = settings with { CacheDir = dir };
                }

                var request = new FetchRequest(id)
                {
                    Revision = parseResult.GetValue(revision) ?? "main",
                    RepoType = parseResult.GetValue(repoType) == "dataset" ? RepoType.Dataset : RepoType.Model,
                    Include = parseResult.GetValue(include) ?? [],
                    Exclude = parseResult.GetValue(exclude) ?? [],
                };
                using var client = new HubClient(settings);
                // Progress goes to standard error so standard output stays the snapshot path a script can capture.
                FetchResult result = await client.FetchAsync(request, new FetchProgressWriter(error), cancellationToken);
                if (result.FromCacheOnly)
                {
                    await error.WriteLineAsync($"fetch: {id}: served from the cache without asking the Hub (offline or unreachable); {request.Revision} may have moved since.");
                }

                int downloaded = result.Files.Count(f => f.Downloaded);
                await error.WriteLineAsync($"fetch: {id} at {request.Revision} is commit {result.Commit}: {result.Files.Count} files ({downloaded} downloaded, {result.Files.Count - downloaded} from the cache)");
                await output.WriteLineAsync(result.SnapshotPath);
                return 0;
            }
            catch (LlmMergeException e)
            {
                await error.WriteLineAsync($"llmmerge fetch: {OneLine(e.Message)}");
                return 1;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await error.WriteLineAsync($"llmmerge fetch: {id}: cancelled; run the same command again to resume.");
                return 130;
            }
        });
        return command;
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries));
}
