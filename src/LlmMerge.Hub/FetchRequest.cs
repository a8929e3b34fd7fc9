namespace LlmMerge.Hub;

/// <summary>What to fetch: a repository at a revision, and which of its files.</summary>
public sealed record FetchRequest
{
    /// <summary>Creates a request for <paramref name="repoId"/> (ORG/NAME) at its default branch.</summary>
    public FetchRequest(string repoId) => RepoId = repoId;

    /// <summary>The repository, ORG/NAME (or NAME for the Hub's legacy root repositories).</summary>
    public string RepoId { get; init; }

    /// <summary>A branch, tag or 40-character commit; <c>main</c> by default.</summary>
    public string Revision { get; init; } = "main";

    /// <summary>Whether the repository is a model or a dataset.</summary>
    public RepoType RepoType { get; init; } = RepoType.Model;

    /// <summary>Globs (fnmatch, as huggingface_hub's allow_patterns); when any is given they replace the default selection.</summary>
    public IReadOnlyList<string> Include { get; init; } = [];

    /// <summary>Globs (fnmatch, as huggingface_hub's ignore_patterns) removed from the selection.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];
}
