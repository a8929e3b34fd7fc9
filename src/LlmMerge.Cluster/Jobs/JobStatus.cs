namespace LlmMerge.Cluster.Jobs;

/// <summary>What a submitter sees of a job at one poll.</summary>
[GenerateSerializer, Immutable, Alias("llmmerge.JobStatus")]
public sealed record JobStatus(
    [property: Id(0)] JobState State,
    // Counts the job's runs: it goes up each time the job is queued again (a worker gone, outputs missing).
    [property: Id(1)] int Attempt,
    [property: Id(2)] WorkerInfo? Worker,
    // The running verb's last line of standard error (its progress).
    [property: Id(3)] string? Progress,
    [property: Id(4)] JobResult? Result,
    // Why the job was queued again, or what it waits for.
    [property: Id(5)] string? Note,
    // How many distinct submissions this run serves (duplicates coalesced into it).
    [property: Id(6)] int Submissions,
    // How many runs reached the end; more than one only when a worker thought dead finished after all.
    [property: Id(7)] int Completions,
    [property: Id(8)] QueueInfo? Queue);
