using System.Text.Json.Serialization;

namespace LlmMerge.Search.Scoring;

/// <summary>A task's metrics for one candidate: acc and acc_norm over its labeled multiple-choice rows.</summary>
public sealed record TaskScore(
    [property: JsonPropertyName("acc")] double Acc,
    [property: JsonPropertyName("acc_norm")] double AccNorm,
    [property: JsonPropertyName("rows")] int Rows)
{
    public double Metric(string name) => name == "acc_norm" ? AccNorm : Acc;
}
