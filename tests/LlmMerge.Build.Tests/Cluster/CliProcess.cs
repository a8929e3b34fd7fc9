using System.Diagnostics;
using System.Text;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests.Cluster;

/// <summary>One `llmmerge VERB ...` process of the repository's Release CLI: started at once, its output collected, waited for with a bound.</summary>
internal class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _out = new(), _err = new();

    public CliProcess(string workingDir, IEnumerable<string> arguments)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDir,
        };
        foreach (string a in arguments.Prepend(Repo.CliAssembly))
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string StandardOutput { get { lock (_out) return _out.ToString(); } }

    public string StandardError { get { lock (_err) return _err.ToString(); } }

    public bool HasExited => _process.HasExited;

    public int Wait(TimeSpan within)
    {
        if (!_process.WaitForExit(within))
        {
            _process.Kill(entireProcessTree: true);
            Assert.Fail($"llmmerge did not finish in {within.TotalSeconds} s:\n{StandardError}");
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public override string ToString() => $"stdout:\n{StandardOutput}\nstderr:\n{StandardError}";

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
