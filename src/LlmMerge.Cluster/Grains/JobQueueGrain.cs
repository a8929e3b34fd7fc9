using LlmMerge.Cluster.Jobs;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace LlmMerge.Cluster.Grains;

/// <summary>
/// Jobs in the order they were queued; a free worker slot takes the first one its llmmerge build can run, or waits
/// for one (reentrant: many slots wait at once, each call's turns run one at a time). A job handed out is not put
/// back by the job grain's polls for a few seconds, so two slots rarely race for one job (and when they do, the job
/// grain lets one of them start it).
/// </summary>
[Reentrant]
internal sealed class JobQueueGrain(IClusterMembershipService membership) : Grain, IJobQueueGrain
{
    private static readonly TimeSpan TakenGrace = TimeSpan.FromSeconds(3);

    private readonly List<QueuedJob> _pending = [];
    private readonly Dictionary<(string Key, int Attempt), DateTime> _taken = [];
    private readonly LinkedList<(WorkerInfo Worker, TaskCompletionSource<QueuedJob?> Slot)> _waiting = new();
    private readonly Dictionary<string, WorkerInfo> _workers = new(StringComparer.Ordinal);

    public Task<QueueInfo> Enqueue(QueuedJob job)
    {
        int i = _pending.FindIndex(j => j.Spec.Key == job.Spec.Key);
        if (i >= 0)
        {
            if (_pending[i].Attempt < job.Attempt)
                _pending[i] = job;
        }
        else if (!(_taken.TryGetValue((job.Spec.Key, job.Attempt), out var at) && DateTime.UtcNow - at < TakenGrace))
        {
            _pending.Add(job);
            Dispatch();
        }
        i = _pending.FindIndex(j => j.Spec.Key == job.Spec.Key);
        return Task.FromResult(Info(job, i));
    }

    public async Task<QueuedJob?> Take(WorkerInfo worker, TimeSpan wait)
    {
        _workers[worker.Silo] = worker;
        if (Next(worker) is { } job)
            return job;
        var slot = new TaskCompletionSource<QueuedJob?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var node = _waiting.AddLast((worker, slot));
        await Task.WhenAny(slot.Task, Task.Delay(wait));
        if (node.List is not null)
            _waiting.Remove(node);
        return slot.Task.IsCompletedSuccessfully ? slot.Task.Result : null;
    }

    private void Dispatch()
    {
        for (var node = _waiting.First; node is not null && _pending.Count > 0;)
        {
            var next = node.Next;
            if (Next(node.Value.Worker) is { } job)
            {
                _waiting.Remove(node);
                node.Value.Slot.TrySetResult(job);
            }
            node = next;
        }
    }

    private QueuedJob? Next(WorkerInfo worker)
    {
        int i = _pending.FindIndex(j => j.Spec.Tool == worker.Tool);
        if (i < 0)
            return null;
        var job = _pending[i];
        _pending.RemoveAt(i);
        var now = DateTime.UtcNow;
        foreach (var stale in _taken.Where(t => now - t.Value > TakenGrace).Select(t => t.Key).ToList())
            _taken.Remove(stale);
        _taken[(job.Spec.Key, job.Attempt)] = now;
        return job;
    }

    private QueueInfo Info(QueuedJob job, int position)
    {
        var snapshot = membership.CurrentSnapshot;
        var live = _workers.Values.Where(w => snapshot.GetSiloStatus(SiloAddress.FromParsableString(w.Silo)) == SiloStatus.Active).ToList();
        int silos = snapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
        return new QueueInfo(position, silos, live.Count(w => w.Tool == job.Spec.Tool),
            live.Select(w => w.Tool).Where(t => t != job.Spec.Tool).Distinct().ToArray());
    }
}
