using System.Text.Json.Serialization;
using LlmMerge.Search.Scoring;

namespace LlmMerge.Search.Candidates;

/// <summary>One scored candidate, one line of candidates.jsonl.</summary>
public sealed record CandidateRecord
{
    [JsonPropertyName("fingerprint")] public required string Fingerprint { get; init; }

    /// <summary>The CMA-ES generation (1-based) it was asked in; the final mean counts as one past the last.</summary>
    [JsonPropertyName("generation")] public required int Generation { get; init; }

    /// <summary>Its place in the generation.</summary>
    [JsonPropertyName("index")] public required int Index { get; init; }

    /// <summary>The final mean pycma's fmin evaluates after the last generation.</summary>
    [JsonPropertyName("final_mean")] public bool FinalMean { get; init; }

    [JsonPropertyName("genotype")] public required double[] Genotype { get; init; }

    /// <summary>Merge parameters per layer group, as mergekit's genotype_to_param_arrays names them.</summary>
    [JsonPropertyName("parameters")] public required SortedDictionary<string, double[]> Parameters { get; init; }

    [JsonPropertyName("scores")] public required SortedDictionary<string, TaskScore> Scores { get; init; }

    /// <summary>Σ weight · metric over the tasks (mergekit's score; CMA-ES minimises its negative).</summary>
    [JsonPropertyName("fitness")] public required double Fitness { get; init; }

    /// <summary>Wall time to merge in memory and score.</summary>
    [JsonPropertyName("seconds")] public required double Seconds { get; init; }
}
