namespace LlmMerge.Cluster.Jobs;

/// <summary>A worker as jobs see it: its name (host:pid unless given), its silo's address, its llmmerge build and slots.</summary>
[GenerateSerializer, Immutable, Alias("llmmerge.WorkerInfo")]
public sealed record WorkerInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] string Silo,
    [property: Id(2)] string Tool,
    [property: Id(3)] int Slots);
