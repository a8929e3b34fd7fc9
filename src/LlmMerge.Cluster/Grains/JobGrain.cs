using LlmMerge.Cluster.Jobs;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace LlmMerge.Cluster.Grains;

/// <summary>
/// The state of one job. Its activation lives on any silo; the job itself runs on whichever worker took it from the
/// queue. A worker declared dead by membership loses its job: the next poll queues it again (a new attempt), and a
/// late report from a stale attempt is told to stop. A success from any attempt is kept (every run of a job writes
/// the same outputs, atomically), a failure only from the current one. Finished jobs stay in memory for the
/// activation's life (two hours idle) so later duplicates get the result without a run, as long as its outputs exist.
/// </summary>
[CollectionAgeLimit(Minutes = 120)]
internal sealed class JobGrain(IClusterMembershipService membership, ILogger<JobGrain> log) : Grain, IJobGrain
{
    /// <summary>How long a new activation waits to hear from the worker a submitter last saw running the job.</summary>
    private static readonly TimeSpan RecoveryWait = TimeSpan.FromSeconds(4);

    private JobSpec? _spec;
    private JobState _state;
    private int _attempt;
    private WorkerInfo? _worker;
    private string? _progress;
    private JobResult? _result;
    private string? _note;
    private int _completions;
    private DateTime _recoverUntil;
    private QueueInfo? _queue;
    private readonly HashSet<string> _submissions = new(StringComparer.Ordinal);

    public async Task<JobStatus> Ensure(JobSpec spec, string submission, string? lastWorkerSilo)
    {
        _spec ??= spec;
        bool known = _submissions.Contains(submission);
        switch (_state)
        {
            case JobState.None:
                if (lastWorkerSilo is not null && IsAlive(lastWorkerSilo))
                {
                    _state = JobState.Recovering;
                    _recoverUntil = DateTime.UtcNow + RecoveryWait;
                    _note = "waiting for the worker that was running it to report";
                }
                else
                {
                    await Queue(lastWorkerSilo is null ? null : "its worker is gone; queued again");
                }
                break;
            case JobState.Recovering:
                if (DateTime.UtcNow >= _recoverUntil)
                    await Queue("its worker did not report; queued again");
                break;
            case JobState.Queued:
                // Idempotent; refills a queue that was lost with its silo.
                await Queue(null);
                break;
            case JobState.Running:
                if (!IsAlive(_worker!.Silo))
                {
                    await Queue($"worker {_worker.Name} is gone (declared dead); queued again");
                }
                break;
            case JobState.Done:
                if (!known && !OutputsExist(_spec))
                    await Restart("its outputs are gone; running it again");
                break;
            case JobState.Failed:
                // A failure answers the submissions that waited for it; a new submission tries again.
                if (!known)
                    await Restart(null);
                break;
        }
        _submissions.Add(submission);
        return Status();
    }

    public Task<bool> Started(QueuedJob job, WorkerInfo worker)
    {
        if (_state == JobState.None || (_state is JobState.Queued or JobState.Recovering && job.Attempt >= _attempt))
        {
            // A new activation (this grain's silo died) adopts the attempt the queue still held.
            _spec ??= job.Spec;
            Run(job.Attempt, worker);
            return Task.FromResult(true);
        }
        return Task.FromResult(false);
    }

    public Task<bool> Heartbeat(QueuedJob job, WorkerInfo worker, string? progress)
    {
        if (_state is JobState.None or JobState.Recovering && job.Attempt >= _attempt)
        {
            _spec ??= job.Spec;
            Run(job.Attempt, worker);
        }
        if (_state == JobState.Running && _attempt == job.Attempt && _worker!.Silo == worker.Silo)
        {
            if (progress is not null)
                _progress = progress;
            return Task.FromResult(true);
        }
        return Task.FromResult(false);
    }

    public Task Finished(QueuedJob job, WorkerInfo worker, JobResult result)
    {
        _spec ??= job.Spec;
        if (result.ExitCode == 0)
        {
            _completions++;
            if (_state != JobState.Done)
            {
                _state = JobState.Done;
                _result = result;
                _worker = worker;
                _attempt = Math.Max(_attempt, job.Attempt);
            }
            else
            {
                if (log.IsEnabled(LogLevel.Warning))
                    log.LogWarning("job {Key}: a second run finished (attempt {Attempt} on {Worker}); the first result stands", this.GetPrimaryKeyString(), job.Attempt, worker.Name);
            }
        }
        else if (_state is JobState.None or JobState.Recovering
                 || (_state == JobState.Running && _attempt == job.Attempt && _worker!.Silo == worker.Silo))
        {
            _completions++;
            _state = JobState.Failed;
            _result = result;
            _worker = worker;
            _attempt = Math.Max(_attempt, job.Attempt);
        }
        return Task.CompletedTask;
    }

    public async Task Abandoned(QueuedJob job, WorkerInfo worker)
    {
        if (_state == JobState.Running && _attempt == job.Attempt && _worker!.Silo == worker.Silo)
            await Queue($"worker {worker.Name} stopped; queued again");
    }

    private void Run(int attempt, WorkerInfo worker)
    {
        _state = JobState.Running;
        _attempt = attempt;
        _worker = worker;
        _progress = null;
        _note = null;
    }

    private async Task Restart(string? note)
    {
        _submissions.Clear();
        _result = null;
        _completions = 0;
        _state = JobState.None;
        await Queue(note);
    }

    private async Task Queue(string? note)
    {
        if (_state != JobState.Queued)
        {
            _attempt++;
            _state = JobState.Queued;
            _worker = null;
            _progress = null;
        }
        if (note is not null)
            _note = note;
        _queue = await GrainFactory.GetGrain<IJobQueueGrain>(0).Enqueue(new QueuedJob(_spec!, _attempt));
    }

    /// <summary>Alive unless membership says dead: a silo it does not know yet is one that just joined.</summary>
    private bool IsAlive(string silo)
    {
        var address = SiloAddress.FromParsableString(silo);
        return membership.CurrentSnapshot.GetSiloStatus(address) is not (SiloStatus.Dead or SiloStatus.ShuttingDown or SiloStatus.Stopping);
    }

    private static bool OutputsExist(JobSpec spec) => spec.Outputs.All(p => File.Exists(p) || Directory.Exists(p));

    private JobStatus Status() => new(_state, _attempt, _worker, _progress, _result, _note, _submissions.Count, _completions,
        _state == JobState.Queued ? _queue : null);
}
