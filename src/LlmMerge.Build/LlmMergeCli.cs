using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LlmMerge.Build;

/// <summary>
/// Runs <c>dotnet llmmerge.dll VERB ...</c> out of the build node. Its standard error (progress) goes to the
/// build log at normal verbosity; its last line of standard output is returned (fetch prints the snapshot
/// folder there). The wall time and the child's peak resident memory (VmHWM, polled from /proc on Linux) are
/// returned and, with <see cref="StatsFile"/>, saved for the report. On success <see cref="MarkerFile"/> is
/// written, which is the output MSBuild's up-to-date check looks at. A failure is one MSBuild error with
/// <see cref="ErrorCode"/> at the line of the item the work came from.
/// </summary>
public sealed class LlmMergeCli : ToolTask
{
    [Required] public string CliAssembly { get; set; } = "";
    [Required] public string[] Arguments { get; set; } = [];
    /// <summary>What the run is for, as the error message names it, e.g. "MergeStep 'ties'".</summary>
    public string Subject { get; set; } = "llmmerge";
    public string ErrorCode { get; set; } = ErrorCodes.MergeFailed;
    public string ErrorFile { get; set; } = "";
    public int ErrorLine { get; set; }
    public string MarkerFile { get; set; } = "";
    public string MarkerContent { get; set; } = "";
    public string StatsFile { get; set; } = "";

    [Output] public string LastOutputLine { get; private set; } = "";
    [Output] public double ElapsedSeconds { get; private set; }
    [Output] public long PeakRssBytes { get; private set; }
    /// <summary>The cluster worker that ran the job, when the command was <c>llmmerge submit</c>; empty otherwise.</summary>
    [Output] public string Worker { get; private set; } = "";

    private string? _lastError;
    private double _workerSeconds;
    private long _workerPeak;

    private const string SubmitDone = "llmmerge submit: ran on ";
    private static readonly System.Text.RegularExpressions.Regex SubmitDoneLine =
        new(@"^llmmerge submit: ran on (\S+) in ([0-9.]+) s, peak memory ([0-9.]+) MiB", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    protected override string ToolName => OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";

    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.Low;
    protected override MessageImportance StandardErrorLoggingImportance => MessageImportance.Normal;

    protected override string GenerateFullPathToTool()
    {
        // The SDK tells MSBuild (and its task hosts) which dotnet runs the build; the same one runs the CLI.
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
            return host;
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            string candidate = Path.Combine(dir, ToolName);
            if (dir.Length > 0 && File.Exists(candidate))
                return candidate;
        }
        return ToolName;
    }

    protected override string GenerateCommandLineCommands()
    {
        var builder = new CommandLineBuilder();
        builder.AppendFileNameIfNotNull(CliAssembly);
        foreach (string arg in Arguments)
            builder.AppendSwitchIfNotNull("", arg);
        return builder.ToString();
    }

    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        // Standard output arrives at Low (see StandardOutputLoggingImportance), standard error at Normal.
        if (messageImportance == MessageImportance.Low)
        {
            if (singleLine.Trim().Length > 0)
                LastOutputLine = singleLine.Trim();
            Log.LogMessage(MessageImportance.Normal, singleLine);
            return;
        }
        // `llmmerge submit` ends with the worker's own figures: the job's time and memory are the worker's, not the client's.
        if (singleLine.StartsWith(SubmitDone, StringComparison.Ordinal) && SubmitDoneLine.Match(singleLine) is { Success: true } done)
        {
            Worker = done.Groups[1].Value;
            _workerSeconds = double.Parse(done.Groups[2].Value, CultureInfo.InvariantCulture);
            _workerPeak = (long)(double.Parse(done.Groups[3].Value, CultureInfo.InvariantCulture) * 1048576);
            Log.LogMessage(MessageImportance.Normal, singleLine);
            return;
        }
        // Logged as messages, never parsed as canonical errors: "llmmerge: error: ..." would otherwise become
        // an error pointing at a file named "llmmerge" instead of the item's line.
        // The CLI's own messages start with "llmmerge" (progress lines with the verb), errors say "error".
        if (singleLine.StartsWith("llmmerge", StringComparison.Ordinal) || singleLine.Contains("error", StringComparison.OrdinalIgnoreCase))
        {
            // "llmmerge: error: X" / "llmmerge fetch: X": the MSBuild error says which tool already.
            string text = singleLine.Trim();
            int colon = text.StartsWith("llmmerge", StringComparison.Ordinal) ? text.IndexOf(": ", StringComparison.Ordinal) : -1;
            text = colon >= 0 ? text[(colon + 2)..] : text;
            _lastError = text.StartsWith("error: ", StringComparison.Ordinal) ? text["error: ".Length..] : text;
        }
        Log.LogMessage(MessageImportance.Normal, singleLine);
    }

    protected override int ExecuteTool(string pathToTool, string responseFileCommands, string commandLineCommands)
    {
        var clock = Stopwatch.StartNew();
        using var watcher = new PeakMemoryWatcher(Path.GetFileName(CliAssembly));
        int exit = base.ExecuteTool(pathToTool, responseFileCommands, commandLineCommands);
        ElapsedSeconds = clock.Elapsed.TotalSeconds;
        PeakRssBytes = watcher.Stop();
        if (Worker.Length > 0 && _workerPeak > 0)
            PeakRssBytes = _workerPeak;
        if (exit == 0)
        {
            if (StatsFile.Length > 0)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(StatsFile))!);
                File.WriteAllText(StatsFile, JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    // On a cluster the report shows the job's own time on its worker, not the client's wait.
                    ["seconds"] = Math.Round(Worker.Length > 0 ? _workerSeconds : ElapsedSeconds, 3),
                    ["peak_rss_bytes"] = PeakRssBytes,
                    ["finished_utc"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
                }));
            }
            if (MarkerFile.Length > 0)
            {
                // Always rewritten (not only when different): its new timestamp is what makes the step up to date.
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(MarkerFile))!);
                File.WriteAllText(MarkerFile, MarkerContent + "\n");
            }
            string where = Worker.Length > 0 ? $" on worker {Worker} ({_workerSeconds:F1} s there)" : "";
            Log.LogMessage(MessageImportance.High, $"{Subject}: done in {ElapsedSeconds:F1} s{where}{(PeakRssBytes > 0 ? $", peak memory {PeakRssBytes / 1048576.0:F0} MiB" : "")}.");
        }
        return exit;
    }

    protected override bool HandleTaskExecutionErrors()
    {
        Log.LogError(null, ErrorCode, null, ErrorFile, ErrorLine, 0, 0, 0,
            $"{Subject}: llmmerge {Arguments.FirstOrDefault()} failed (exit code {ExitCode}): {_lastError ?? "see its output above"}");
        return false;
    }
}
