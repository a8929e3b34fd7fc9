namespace LlmMerge.Cluster.Jobs;

/// <summary>The queue as a waiting job sees it: its place, the live workers, and how many of them run the job's llmmerge build.</summary>
[GenerateSerializer, Immutable, Alias("llmmerge.QueueInfo")]
public sealed record QueueInfo(
    [property: Id(0)] int Position,
    [property: Id(1)] int Workers,
    [property: Id(2)] int WorkersWithTool,
    [property: Id(3)] string[] OtherTools);
