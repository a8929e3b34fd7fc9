namespace LlmMerge.Cluster.Jobs;

/// <summary>
/// One job: an <c>llmmerge</c> verb with its arguments, exactly as the client would have run it on its own machine.
/// <see cref="Key"/> names the job's grain: the graph's step fingerprint or evaluation pair keys, or the search's
/// candidate fingerprint, so two submissions of the same work meet in one grain and run once.
/// </summary>
[GenerateSerializer, Immutable, Alias("llmmerge.JobSpec")]
public sealed record JobSpec(
    [property: Id(0)] string Key,
    [property: Id(1)] string[] Arguments,
    [property: Id(2)] string WorkingDirectory,
    // The client's <see cref="ToolIdentity"/>: only workers running the same llmmerge build take the job.
    [property: Id(3)] string Tool,
    // Files or folders the job writes; a finished job whose outputs are gone runs again for a new submission.
    [property: Id(4)] string[] Outputs,
    // What the job is for, as logs name it (e.g. "MergeStep 'ties'").
    [property: Id(5)] string Subject)
{
    public string Verb => Arguments.Length > 0 ? Arguments[0] : "";
}
