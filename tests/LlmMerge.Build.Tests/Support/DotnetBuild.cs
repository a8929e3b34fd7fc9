using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace LlmMerge.Build.Tests.Support;

/// <summary>The outcome of one `dotnet build`: exit code and the whole log at normal verbosity.</summary>
internal sealed record BuildResult(int ExitCode, string Log, TimeSpan Elapsed)
{
    /// <summary>Steps whose CLI run finished in this build ("MergeStep 'x': done in ...").</summary>
    public IReadOnlyList<string> StepsRan =>
        Regex.Matches(Log, @"\w+Step '([^']+)': done in").Select(m => m.Groups[1].Value).Distinct().Order(StringComparer.Ordinal).ToList();

    public int StepsSkipped => Regex.Count(Log, "Skipping target \"_LlmMergeRunStep\" because all output files are up-to-date");

    public IReadOnlyList<string> Errors =>
        Log.Split('\n').Select(l => l.Trim()).Where(l => l.Contains(": error ", StringComparison.Ordinal)).Distinct().ToList();

    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F1} s\n{Log}";
}

/// <summary>Runs `dotnet build` the way a user does, with the classic console logger so the log can be read.</summary>
internal static class DotnetBuild
{
    public static BuildResult Run(string project, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(project)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // -nr:false: no MSBuild nodes outlive the test; -tl:off: the plain log the assertions read.
        foreach (string a in new[] { "build", project, "-nologo", "-v:n", "-tl:off", "-nr:false" }.Concat(args))
            psi.ArgumentList.Add(a);
        // A build started from a test host must not inherit the test host's MSBuild settings.
        foreach (string name in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildLoadMicrosoftTargetsReadOnly" })
            psi.Environment.Remove(name);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        if (environment is not null)
            foreach (var (k, v) in environment) psi.Environment[k] = v;

        var log = new StringBuilder();
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet build {project} did not finish in 5 minutes:\n{log}");
        }
        process.WaitForExit();
        return new BuildResult(process.ExitCode, log.ToString(), clock.Elapsed);
    }
}
