namespace LlmMerge.Cluster.Jobs;

/// <summary>A job waiting for a worker slot, with the attempt it is for (a worker taking a stale attempt is told to drop it).</summary>
[GenerateSerializer, Immutable, Alias("llmmerge.QueuedJob")]
public sealed record QueuedJob([property: Id(0)] JobSpec Spec, [property: Id(1)] int Attempt);
