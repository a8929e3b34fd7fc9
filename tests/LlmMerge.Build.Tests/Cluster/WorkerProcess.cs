using System.Diagnostics;
using System.Text.RegularExpressions;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests.Cluster;

/// <summary>
/// One `llmmerge worker` process of the repository's Release CLI, with its lines and when each arrived. Dispose
/// stops it (and any job it runs) for good; <see cref="KillHard"/> is SIGKILL, what the fault tests do.
/// </summary>
internal sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<(DateTime At, string Line)> _lines = [];

    public string Name { get; }

    public int Pid => _process.Id;

    public WorkerProcess(string cluster, string name, params string[] extra)
    {
        Name = name;
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        foreach (string a in new[] { Repo.CliAssembly, "worker", "--cluster", cluster, "--name", name }.Concat(extra))
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private void Add(string? line)
    {
        if (line is not null)
            lock (_lines) _lines.Add((DateTime.UtcNow, line));
    }

    public IReadOnlyList<(DateTime At, string Line)> Lines
    {
        get { lock (_lines) return _lines.ToList(); }
    }

    public string Log => string.Join("\n", Lines.Select(l => $"[{Name} {l.At:HH:mm:ss.fff}] {l.Line}"));

    /// <summary>Keys of the jobs this worker started ("job KEY: started ...").</summary>
    public IReadOnlyList<string> Started => Lines.Select(l => Regex.Match(l.Line, @"job (\S+): started")).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();

    public DateTime? FirstLine(Func<string, bool> match) => Lines.Where(l => match(l.Line)).Select(l => (DateTime?)l.At).FirstOrDefault();

    public void WaitJoined(TimeSpan within)
    {
        var until = DateTime.UtcNow + within;
        while (FirstLine(l => l.Contains(" joined cluster ", StringComparison.Ordinal)) is null)
        {
            if (_process.HasExited || DateTime.UtcNow > until)
                Assert.Fail($"worker {Name} did not join in {within.TotalSeconds} s:\n{Log}");
            Thread.Sleep(100);
        }
    }

    /// <summary>The worker's child processes (the jobs it runs), from /proc.</summary>
    public IReadOnlyList<int> Children()
    {
        var children = new List<int>();
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
                continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == _process.Id)
                    children.Add(pid);
            }
            catch (IOException)
            {
            }
        }
        return children;
    }

    public void KillHard() => _process.Kill(entireProcessTree: false);

    public bool HasExited => _process.HasExited;

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
    }
}
