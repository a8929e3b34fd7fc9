namespace LlmMerge.Cluster.Worker;

/// <summary>
/// What <c>llmmerge worker</c> was started with. The failure-detection settings decide how soon a killed worker's
/// jobs run elsewhere: a silo is declared dead after <see cref="MissedProbes"/> probes of <see cref="ProbeTimeout"/>
/// go unanswered and <see cref="DeathVotes"/> silos agree (Orleans' defaults: 5 s, 3 probes, 2 votes, about 15 to
/// 30 s; these defaults take a few seconds). On a loaded machine very short probes may declare a slow silo dead.
/// </summary>
public sealed record WorkerSettings
{
    public required ClusterAddress Cluster { get; init; }
    public string Name { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}";
    public int Slots { get; init; } = 1;
    /// <summary>Passed to each job whose verb takes <c>--device</c> and was not given one.</summary>
    public string? Device { get; init; }
    public string? AdvertiseAddress { get; init; }
    public int SiloPort { get; init; }
    public int GatewayPort { get; init; }
    public string ClusterId { get; init; } = "llmmerge";
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(1);
    public int MissedProbes { get; init; } = 2;
    public int DeathVotes { get; init; } = 1;
    /// <summary>The llmmerge this worker runs jobs with: its own assembly unless set.</summary>
    public string? CliAssembly { get; init; }
}
