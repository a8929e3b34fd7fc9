namespace LlmMerge.Build.Tests.Cluster;

/// <summary>One `llmmerge submit` process.</summary>
internal sealed class Submission(string cluster, string key, string workingDir, params string[] command)
    : CliProcess(workingDir, new[] { "submit", "--cluster", cluster, "--key", key, "--" }.Concat(command));
