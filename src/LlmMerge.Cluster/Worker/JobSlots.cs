using LlmMerge.Cluster.Grains;
using LlmMerge.Cluster.Jobs;
using Microsoft.Extensions.Hosting;
using Orleans.Runtime;

namespace LlmMerge.Cluster.Worker;

/// <summary>
/// The worker's slots: each one takes the next job from the cluster's queue, tells the job grain it started, runs
/// it (<see cref="JobProcess"/>) and reports how it ended, retrying the report while the job grain moves to another
/// silo. A job the worker stops before it ends is handed back to be queued again at once.
/// </summary>
internal sealed class JobSlots(IGrainFactory grains, ILocalSiloDetails silo, WorkerSettings settings, WorkerLog log) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stop)
    {
        var me = new WorkerInfo(settings.Name, silo.SiloAddress.ToParsableString(), ToolIdentity.Current, settings.Slots);
        return Task.WhenAll(Enumerable.Range(0, settings.Slots).Select(i => Task.Run(() => Slot(me, stop), CancellationToken.None)));
    }

    private async Task Slot(WorkerInfo me, CancellationToken stop)
    {
        var queue = grains.GetGrain<IJobQueueGrain>(0);
        var runner = new JobProcess(settings, log.Out);
        while (!stop.IsCancellationRequested)
        {
            QueuedJob? job;
            try
            {
                job = await queue.Take(me, TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                log.Line($"queue unreachable ({e.GetType().Name}); asking again");
                await Delay(TimeSpan.FromSeconds(1), stop);
                continue;
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                break;
            }
            if (job is null)
                continue;
            var grain = grains.GetGrain<IJobGrain>(job.Spec.Key);
            try
            {
                if (!await grain.Started(job, me))
                    continue;
            }
            catch (Exception e)
            {
                // Its job grain will queue it again on the next poll.
                log.Line($"job {job.Spec.Key}: could not reach its job grain ({e.GetType().Name}); left for another run");
                continue;
            }
            log.Line($"job {job.Spec.Key}: started (attempt {job.Attempt}): {job.Spec.Subject}: llmmerge {string.Join(' ', job.Spec.Arguments)}");
            JobResult? result = await runner.Run(job, me, grain, stop);
            if (result is null)
            {
                if (stop.IsCancellationRequested)
                    await Try(() => grain.Abandoned(job, me), TimeSpan.FromSeconds(5));
                continue;
            }
            log.Line(result.ExitCode == 0
                ? $"job {job.Spec.Key}: done in {result.Seconds:F1} s (attempt {job.Attempt})"
                : $"job {job.Spec.Key}: failed (exit code {result.ExitCode}, attempt {job.Attempt}): {result.ErrorMessage()}");
            if (!await Try(() => grain.Finished(job, me, result), TimeSpan.FromMinutes(2)))
                log.Line($"job {job.Spec.Key}: could not report the result; its outputs are written, a submitter's next poll runs it again");
        }
    }

    private static async Task<bool> Try(Func<Task> call, TimeSpan within)
    {
        var until = DateTime.UtcNow + within;
        while (true)
        {
            try
            {
                await call();
                return true;
            }
            catch (Exception) when (DateTime.UtcNow < until)
            {
                await Task.Delay(500);
            }
            catch (Exception)
            {
                return false;
            }
        }
    }

    private static async Task Delay(TimeSpan t, CancellationToken stop)
    {
        try
        {
            await Task.Delay(t, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
