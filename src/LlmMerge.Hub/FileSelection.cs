namespace LlmMerge.Hub;

/// <summary>Which of a repository's files a fetch downloads: by default only what a merge needs.</summary>
internal static class FileSelection
{
    // What a merge reads: weights, configs, and the tokenizer it copies into the merged model.
    private static readonly string[] DefaultModelPatterns =
    [
        "*.safetensors", "*.json", "tokenizer.model", "*.model", "*.txt", "*.jinja", "*.tiktoken", "README.md",
    ];

    // Used only when the repository has no safetensors, as mergekit's ModelReference.local_path (a6e40288) and
    // transformers fall back: torch.save checkpoints (pytorch_model*.bin with their index, adapter_model.bin), which
    // LlmMerge.Core reads. Training leftovers such as optimizer.pt or rng_state.pth are not weights.
    private static readonly string[] FallbackWeightPatterns = ["*.bin"];

    /// <summary>The selected names among <paramref name="files"/>, in their listed order.</summary>
    public static IReadOnlyList<string> Select(IReadOnlyList<string> files, FetchRequest request) =>
        files.Where(f => IsSelected(f, files, request)).ToList();

    /// <summary>True when <paramref name="file"/> belongs to the selection, given the repository's whole listing.</summary>
    public static bool IsSelected(string file, IReadOnlyList<string> allFiles, FetchRequest request)
    {
        IReadOnlyList<string> include = request.Include.Count > 0
            ? request.Include.Select(Normalise).ToList()
            : DefaultPatterns(allFiles, request.RepoType);
        if (include.Count > 0 && !include.Any(p => Fnmatch.IsMatch(file, p)))
        {
            return false;
        }

        return !request.Exclude.Select(Normalise).Any(p => Fnmatch.IsMatch(file, p));
    }

    // Datasets have no "weights"; a task reads whatever the dataset ships, so every file is selected (empty = all).
    private static IReadOnlyList<string> DefaultPatterns(IReadOnlyList<string> allFiles, RepoType repoType)
    {
        if (repoType == RepoType.Dataset)
        {
            return [];
        }

        bool hasSafetensors = allFiles.Any(f => f.EndsWith(".safetensors", StringComparison.Ordinal));
        return hasSafetensors ? DefaultModelPatterns : [.. DefaultModelPatterns, .. FallbackWeightPatterns];
    }

    // huggingface_hub reads a pattern ending in '/' as "everything under this folder".
    private static string Normalise(string pattern) => pattern.EndsWith('/') ? pattern + "*" : pattern;
}
