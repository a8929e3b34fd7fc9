using LlmMerge.Cluster.Jobs;

namespace LlmMerge.Cluster.Grains;

/// <summary>
/// A job, keyed by its fingerprint (see <see cref="JobKeys"/>): one activation in the cluster holds its state, so every
/// submission of the same work waits on one run. Submitters poll <see cref="Ensure"/>; workers report to it.
/// </summary>
[Alias("llmmerge.IJobGrain")]
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>
    /// Makes sure the job is queued, running or finished, and says which. Idempotent: a submitter calls it until the
    /// job ends. <paramref name="lastWorkerSilo"/> is the silo the submitter last saw run it: a new activation (the old
    /// one's silo died) waits a moment for that worker to report before queueing the job again.
    /// </summary>
    [Alias("Ensure")]
    Task<JobStatus> Ensure(JobSpec spec, string submission, string? lastWorkerSilo);

    /// <summary>A worker took the job from the queue; false: that attempt is stale, drop it.</summary>
    [Alias("Started")]
    Task<bool> Started(QueuedJob job, WorkerInfo worker);

    /// <summary>The worker is still at it (about every second); false: the job was given to another run, stop.</summary>
    [Alias("Heartbeat")]
    Task<bool> Heartbeat(QueuedJob job, WorkerInfo worker, string? progress);

    [Alias("Finished")]
    Task Finished(QueuedJob job, WorkerInfo worker, JobResult result);

    /// <summary>The worker is stopping and did not finish the job: queue it again now.</summary>
    [Alias("Abandoned")]
    Task Abandoned(QueuedJob job, WorkerInfo worker);
}
