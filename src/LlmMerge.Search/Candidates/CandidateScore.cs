using System.Text.Json.Serialization;
using LlmMerge.Search.Scoring;

namespace LlmMerge.Search.Candidates;

/// <summary>What <c>llmmerge score-candidate</c> prints: one candidate's scores, for the search that asked.</summary>
public sealed record CandidateScore
{
    [JsonPropertyName("fingerprint")] public required string Fingerprint { get; init; }

    [JsonPropertyName("scores")] public required SortedDictionary<string, TaskScore> Scores { get; init; }

    /// <summary>Wall time to merge in memory and score (model loading and the process's start left out).</summary>
    [JsonPropertyName("seconds")] public required double Seconds { get; init; }
}
