namespace LlmMerge.Cluster.Jobs;

/// <summary>Where a job is: no submission yet, waiting in the queue, waiting to hear from the worker a previous
/// activation had handed it to, running on a worker, finished.</summary>
[GenerateSerializer, Alias("llmmerge.JobState")]
public enum JobState
{
    None,
    Queued,
    Recovering,
    Running,
    Done,
    Failed,
}
