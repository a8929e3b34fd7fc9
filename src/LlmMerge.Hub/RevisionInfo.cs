using System.Text.Json;
using LlmMerge.Core;

namespace LlmMerge.Hub;

/// <summary>The Hub's answer to <c>GET /api/{models|datasets}/{repo}/revision/{rev}</c>: the commit and its file list.</summary>
/// <param name="Commit">The 40-character commit the revision points to.</param>
/// <param name="Files">Every file of the repository at that commit (the <c>siblings</c>' <c>rfilename</c>).</param>
public sealed record RevisionInfo(string Commit, IReadOnlyList<string> Files)
{
    /// <summary>Reads the API's JSON, refusing a commit that is not a full hash and any file name that would leave the snapshot.</summary>
    internal static RevisionInfo Parse(string json, string repoId, string revision)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement root = document.RootElement;
        string? sha = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("sha", out JsonElement shaElement) && shaElement.ValueKind == JsonValueKind.String
            ? shaElement.GetString()
            : null;
        if (sha is null || !HubNames.IsCommitHash(sha))
        {
            throw new LlmMergeException($"the Hub's answer for {repoId} at revision {revision} has no valid commit (\"sha\"): check HF_ENDPOINT points to a Hugging Face Hub.");
        }

        var files = new List<string>();
        if (root.TryGetProperty("siblings", out JsonElement siblings) && siblings.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement sibling in siblings.EnumerateArray())
            {
                if (sibling.ValueKind == JsonValueKind.Object && sibling.TryGetProperty("rfilename", out JsonElement name) && name.GetString() is { } fileName)
                {
                    HubNames.ValidateFileName(repoId, fileName);
                    files.Add(fileName);
                }
            }
        }

        return new RevisionInfo(sha, files);
    }
}
