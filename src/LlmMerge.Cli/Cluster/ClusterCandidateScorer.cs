using System.Globalization;
using System.Text.Json;
using LlmMerge.Cluster;
using LlmMerge.Cluster.Client;
using LlmMerge.Cluster.Jobs;
using LlmMerge.Core;
using LlmMerge.Search;
using LlmMerge.Search.Candidates;
using LlmMerge.Search.Scoring;

namespace LlmMerge.Cli.Cluster;

/// <summary>
/// <c>llmmerge evolve --cluster</c>: a generation's new candidates go to the cluster at once, each a
/// <c>llmmerge score-candidate</c> job keyed by its candidate fingerprint (so a candidate asked twice, by two
/// searches or a resumed one, runs once), and the search waits for the whole generation, as mergekit-evolve's pool
/// strategy. Each result comes back as the job's standard output and is stored by the search process itself, so
/// candidates.jsonl keeps one writer. A worker killed mid-candidate loses nothing: its job runs again elsewhere once
/// membership declares it dead (<see cref="JobSubmitter"/>).
/// </summary>
internal sealed class ClusterCandidateScorer : ICandidateScorer
{
    private readonly ClusterAddress _address;
    private readonly string _clusterId;
    private readonly PreparedSearch _search;
    private readonly string[] _common;
    private readonly TextWriter _log;
    private ClusterConnection? _connection;

    private ClusterCandidateScorer(ClusterAddress address, string clusterId, PreparedSearch search, string[] common, TextWriter log)
    {
        _address = address;
        _clusterId = clusterId;
        _search = search;
        _common = common;
        _log = log;
    }

    /// <param name="address">The cluster.</param>
    /// <param name="clusterId">Its Orleans cluster id.</param>
    /// <param name="search">The prepared genome (its seed goes with every job).</param>
    /// <param name="taskSearchPaths">The search's task folders, as absolute paths for the workers.</param>
    /// <param name="device">A device the user named for the jobs; null leaves it to each worker's --device.</param>
    /// <param name="log">Where the search's progress goes (synchronised here: a generation's jobs report at once).</param>
    public static ClusterCandidateScorer Create(ClusterAddress address, string clusterId, PreparedSearch search, IReadOnlyList<string> taskSearchPaths, string? device, TextWriter log)
    {
        var common = new List<string> { "--random-seed", search.Seed.ToString(CultureInfo.InvariantCulture) };
        foreach (string p in taskSearchPaths)
            common.AddRange(["--task-search-path", Path.GetFullPath(p)]);
        if (device is not null)
            common.AddRange(["--device", device]);
        return new ClusterCandidateScorer(address, clusterId, search, [.. common], TextWriter.Synchronized(log));
    }

    /// <summary>Connects on the first generation with candidates to score: a search answered from its store needs no cluster.</summary>
    private ClusterConnection Connection()
    {
        if (_connection is null)
        {
            _connection = ClusterConnection.Connect(_address, _log, TimeSpan.FromHours(1), _clusterId).GetAwaiter().GetResult();
            _log.WriteLine($"evolve: scoring candidates on cluster {_address}");
        }
        return _connection;
    }

    public void Score(IReadOnlyList<CandidateJob> candidates, Action<CandidateJob, SortedDictionary<string, TaskScore>, double> scored)
    {
        var client = Connection().Client;
        var jobs = candidates.Select(c => Task.Run(() => One(client, c, scored))).ToArray();
        try
        {
            Task.WaitAll(jobs);
        }
        catch (AggregateException e)
        {
            var first = e.Flatten().InnerExceptions.FirstOrDefault(x => x is LlmMergeException) ?? e.Flatten().InnerExceptions[0];
            if (first is LlmMergeException)
                throw first;
            throw new LlmMergeException($"cluster: a candidate job failed ({first.GetType().Name}: {first.Message.ReplaceLineEndings(" ")})", first);
        }
    }

    private async Task One(IClusterClient client, CandidateJob c, Action<CandidateJob, SortedDictionary<string, TaskScore>, double> scored)
    {
        string genome = _search.Config.SourcePath;
        string[] arguments = ["score-candidate", genome, "--genotype", CandidateScoreRunner.FormatGenotype(c.Genotype), "--fingerprint", c.Fingerprint, .. _common];
        string cwd = Environment.CurrentDirectory;
        var spec = new JobSpec(JobKeys.GrainKey(c.Fingerprint, arguments, cwd), arguments, cwd, ToolIdentity.Current, [], $"evolve candidate {c.Generation}.{c.Index}");
        using var output = new StringWriter();
        var submitter = new JobSubmitter(client, output, _log) { Quiet = true };
        int code = await submitter.Run(spec);
        var result = submitter.Last?.Result;
        if (code != 0 || result is null)
            throw new LlmMergeException($"candidate {c.Generation}.{c.Index} (job {spec.Key}): worker {result?.Worker ?? "?"}: {result?.ErrorMessage() ?? $"exit code {code}"}");
        string line = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
        CandidateScore? score;
        try { score = JsonSerializer.Deserialize<CandidateScore>(line); }
        catch (JsonException e) { throw new LlmMergeException($"candidate {c.Generation}.{c.Index}: worker {result.Worker} answered no scores ({e.Message}); is it running this llmmerge build?", e); }
        if (score is null || score.Fingerprint != c.Fingerprint)
            throw new LlmMergeException($"candidate {c.Generation}.{c.Index}: worker {result.Worker} scored another candidate ({score?.Fingerprint ?? "none"})");
        _log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"evolve: candidate {c.Generation}.{c.Index} scored on worker {result.Worker} in {result.Seconds:F1} s (merge and score {score.Seconds:F2} s, attempt {result.Attempt})"));
        scored(c, score.Scores, score.Seconds);
    }

    public void Dispose() => _connection?.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
