using LlmMerge.Cluster.Jobs;

namespace LlmMerge.Cluster.Grains;

/// <summary>
/// The cluster's one queue of jobs waiting for a slot. Workers pull from it (each slot asks when it is free), so work
/// goes to whichever worker is idle. It holds nothing that cannot be rebuilt: job grains put their job back on every
/// poll while it waits, so a queue lost with its silo refills from the next polls.
/// </summary>
[Alias("llmmerge.IJobQueueGrain")]
public interface IJobQueueGrain : IGrainWithIntegerKey
{
    [Alias("Enqueue")]
    Task<QueueInfo> Enqueue(QueuedJob job);

    /// <summary>The next job this worker's llmmerge build can run, waiting up to <paramref name="wait"/>; null when none came.</summary>
    [Alias("Take")]
    Task<QueuedJob?> Take(WorkerInfo worker, TimeSpan wait);
}
