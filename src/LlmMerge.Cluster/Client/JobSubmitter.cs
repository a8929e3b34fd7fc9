using System.Diagnostics;
using LlmMerge.Cluster.Grains;
using LlmMerge.Cluster.Jobs;

namespace LlmMerge.Cluster.Client;

/// <summary>
/// Submits one job and waits for it, polling its grain (<see cref="IJobGrain.Ensure"/>) and saying on standard error
/// what happens to it: queued, which worker runs it, its progress lines, a worker lost and the job queued again.
/// At the end the verb's standard output is printed as the verb would have printed it, and the exit code is the
/// verb's; a failure ends with the worker's own error line, so a build names the real cause.
/// </summary>
public sealed class JobSubmitter(IClusterClient client, TextWriter stdout, TextWriter stderr)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    /// <summary>The last status seen, for callers that want more than the exit code (the search's scores).</summary>
    public JobStatus? Last { get; private set; }

    /// <summary>
    /// Only what goes wrong (a worker lost, the cluster not answering, a failure's output), not each job's queue,
    /// worker and progress: a search submits a whole generation at once and says itself where each candidate ran.
    /// </summary>
    public bool Quiet { get; init; }

    public async Task<int> Run(JobSpec spec, CancellationToken cancel = default)
    {
        var grain = client.GetGrain<IJobGrain>(spec.Key);
        string submission = Guid.NewGuid().ToString("N");
        string? lastSilo = null, lastProgress = null, lastError = null;
        int lastAttempt = 0;
        JobState lastState = JobState.None;
        string? lastNote = null;
        bool first = true, toolWarned = false;
        var queuedSince = Stopwatch.StartNew();
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            JobStatus status;
            try
            {
                status = await grain.Ensure(spec, submission, lastSilo);
                if (lastError is not null)
                    Say($"job {spec.Key}: cluster answers again");
                lastError = null;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A silo going down: calls through it fail until membership has moved on. Ask again.
                string why = $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}";
                if (why != lastError)
                    Say($"job {spec.Key}: cluster did not answer ({Short(why)}); asking again");
                lastError = why;
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancel);
                continue;
            }
            Last = status;
            if (first && status.Submissions > 1)
                Say($"job {spec.Key}: already submitted ({status.State.ToString().ToLowerInvariant()}, attempt {status.Attempt}); waiting for that run ({status.Submissions} submissions)");
            first = false;
            if (status.Note is { } note && note != lastNote && status.Attempt >= lastAttempt)
                Say($"job {spec.Key}: {note}");
            lastNote = status.Note;
            if (status.State == JobState.Queued && (lastState != JobState.Queued || status.Attempt != lastAttempt))
            {
                queuedSince.Restart();
                if (!Quiet)
                    Say($"job {spec.Key}: queued (attempt {status.Attempt}{(status.Queue is { } q ? $", position {q.Position + 1}, {q.Workers} worker(s)" : "")})");
            }
            if (status.State == JobState.Queued && !toolWarned && queuedSince.Elapsed > TimeSpan.FromSeconds(5) && status.Queue is { WorkersWithTool: 0, OtherTools.Length: > 0 } qi)
            {
                Say($"job {spec.Key}: no worker runs this llmmerge build (tool {spec.Tool}; workers run {string.Join(", ", qi.OtherTools)}): build the same commit on every worker");
                toolWarned = true;
            }
            if (status.State == JobState.Running && status.Worker is { } w && (w.Silo != lastSilo || status.Attempt != lastAttempt || lastState != JobState.Running))
            {
                if (!Quiet)
                    Say($"job {spec.Key}: running on worker {w.Name} (attempt {status.Attempt})");
                lastSilo = w.Silo;
                lastProgress = null;
            }
            if (status.State == JobState.Running && status.Progress is { } p && p != lastProgress && !Quiet)
            {
                stderr.WriteLine($"  [{status.Worker?.Name}] {p}");
                lastProgress = p;
            }
            lastState = status.State;
            lastAttempt = status.Attempt;
            if (status.State is JobState.Done or JobState.Failed && status.Result is { } r)
                return Finish(spec, status, r);
            await Task.Delay(Poll, cancel);
        }
    }

    private int Finish(JobSpec spec, JobStatus status, JobResult r)
    {
        stdout.Write(r.StandardOutput);
        stdout.Flush();
        if (r.ExitCode == 0)
        {
            if (!Quiet)
                Say($"ran on {r.Worker} in {r.Seconds:F1} s, peak memory {r.PeakRssBytes / 1048576.0:F0} MiB (job {spec.Key}, attempt {r.Attempt}, {status.Submissions} submission(s))");
            return 0;
        }
        foreach (string line in r.StandardErrorTail)
            stderr.WriteLine($"  [{r.Worker}] {line}");
        Say($"job {spec.Key} failed on {r.Worker} (exit code {r.ExitCode}, attempt {r.Attempt})");
        // Last, so whoever reads the last error line (the build's LlmMergeCli task) reports the worker's message; a
        // quiet caller reports it itself.
        if (!Quiet)
            stderr.WriteLine($"llmmerge: error: worker {r.Worker}: {r.ErrorMessage()}");
        stderr.Flush();
        return r.ExitCode;
    }

    private void Say(string text)
    {
        stderr.WriteLine($"llmmerge submit: {text}");
        stderr.Flush();
    }

    private static string Short(string s) => s.Length <= 160 ? s : s[..160] + "…";
}
