using System.Diagnostics;
using System.Globalization;
using LlmMerge.Cluster.Grains;
using LlmMerge.Cluster.Jobs;

namespace LlmMerge.Cluster.Worker;

/// <summary>
/// Runs one job as its own <c>llmmerge VERB ...</c> process, as the local path would: a native failure or a model
/// too large for the machine ends that process with a message, not the worker. The child's standard input is a pipe
/// from the worker, and llmmerge exits when it closes (<see cref="ExitWithParentVariable"/>), so a worker killed
/// with SIGKILL leaves no orphan writing outputs. Every second the job grain hears that the run goes on (with the
/// child's last line of standard error as progress); when it answers that the job went to another run, the child is
/// killed. Outputs appear atomically (the verbs write beside and rename), so a killed run leaves nothing visible.
/// </summary>
internal sealed class JobProcess(WorkerSettings settings, TextWriter log)
{
    public const string ExitWithParentVariable = "LLMMERGE_EXIT_WITH_STDIN";
    private const int TailLines = 40;

    public async Task<JobResult?> Run(QueuedJob job, WorkerInfo me, IJobGrain grain, CancellationToken stop)
    {
        var spec = job.Spec;
        var psi = StartInfo(spec);
        var clock = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        var stdout = new System.Text.StringBuilder();
        var tail = new Queue<string>();
        string? progress = null;
        object gate = new();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (gate)
                if (stdout.Length < 1 << 20)
                    stdout.Append(e.Data).Append('\n');
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (gate)
            {
                tail.Enqueue(e.Data);
                while (tail.Count > TailLines) tail.Dequeue();
                if (e.Data.Trim().Length > 0) progress = e.Data.Trim();
            }
        };
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return new JobResult(127, "", [$"llmmerge: error: worker {me.Name} could not start {psi.FileName}: {e.Message}"], me.Name, 0, 0, job.Attempt);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        long peak = 0;
        string? sent = null;
        var exited = process.WaitForExitAsync(CancellationToken.None);
        var beat = Stopwatch.StartNew();
        while (!exited.IsCompleted)
        {
            // Memory is sampled often (the kernel keeps the peak, the child only has to be seen alive); the grain hears every second.
            await Task.WhenAny(exited, Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None));
            peak = Math.Max(peak, PeakRss(process));
            if (exited.IsCompleted)
                break;
            if (beat.Elapsed < TimeSpan.FromSeconds(1) && !stop.IsCancellationRequested)
                continue;
            beat.Restart();
            if (stop.IsCancellationRequested)
            {
                Kill(process);
                log.WriteLine($"job {spec.Key}: stopped with the worker; handing it back");
                return null;
            }
            string? now;
            lock (gate) now = progress;
            bool keep = true;
            try
            {
                keep = await grain.Heartbeat(job, me, now == sent ? null : now);
                sent = now;
            }
            catch (Exception e)
            {
                // The job grain's silo may be gone; the run is still good, and a new activation adopts it.
                log.WriteLine($"job {spec.Key}: heartbeat not delivered ({e.GetType().Name}); going on");
            }
            if (!keep)
            {
                Kill(process);
                log.WriteLine($"job {spec.Key}: attempt {job.Attempt} was superseded; stopped it");
                return null;
            }
        }
        await exited;
        process.WaitForExit(); // drains the output readers
        string[] err;
        lock (gate) err = tail.ToArray();
        int code = process.ExitCode;
        if (code is 137 or -9 && !err.Any(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)))
            err = [.. err, $"llmmerge: error: worker {me.Name}: llmmerge {spec.Verb} was killed (SIGKILL; out of memory?)"];
        return new JobResult(code, stdout.ToString(), err, me.Name, Math.Round(clock.Elapsed.TotalSeconds, 3), peak, job.Attempt);
    }

    private ProcessStartInfo StartInfo(JobSpec spec)
    {
        string cli = settings.CliAssembly ?? Path.Combine(AppContext.BaseDirectory, "llmmerge.dll");
        string host = Environment.ProcessPath ?? "dotnet";
        var psi = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory.Exists(spec.WorkingDirectory) ? spec.WorkingDirectory : Environment.CurrentDirectory,
        };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            psi.FileName = host;
            psi.ArgumentList.Add(cli);
        }
        else
        {
            psi.FileName = host; // the apphost (llmmerge) runs itself
        }
        foreach (string a in spec.Arguments)
            psi.ArgumentList.Add(a);
        if (settings.Device is { } device && TakesDevice(spec.Verb) && !spec.Arguments.Contains("--device"))
        {
            psi.ArgumentList.Add("--device");
            psi.ArgumentList.Add(device);
        }
        psi.Environment[ExitWithParentVariable] = "1";
        return psi;
    }

    private static bool TakesDevice(string verb) => verb is "merge" or "eval" or "evolve" or "score-candidate";

    private static void Kill(Process p)
    {
        try
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>The child's VmHWM from /proc (Linux); 0 elsewhere or once it has exited.</summary>
    private static long PeakRss(Process p)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{p.Id}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or FormatException)
        {
        }
        return 0;
    }
}
