namespace LlmMerge.Cluster.Jobs;

/// <summary>How a run ended: the verb's exit code and standard output, the tail of its standard error, where and how long it ran.</summary>
[GenerateSerializer, Immutable, Alias("llmmerge.JobResult")]
public sealed record JobResult(
    [property: Id(0)] int ExitCode,
    [property: Id(1)] string StandardOutput,
    [property: Id(2)] string[] StandardErrorTail,
    [property: Id(3)] string Worker,
    [property: Id(4)] double Seconds,
    [property: Id(5)] long PeakRssBytes,
    [property: Id(6)] int Attempt)
{
    /// <summary>The verb's own error line ("llmmerge: error: ..."), else its last line of standard error.</summary>
    public string ErrorMessage()
    {
        string? line = StandardErrorTail.LastOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase))
                       ?? StandardErrorTail.LastOrDefault(l => l.Trim().Length > 0);
        if (line is null)
            return $"exit code {ExitCode}";
        line = line.Trim();
        const string prefix = "llmmerge: error: ";
        return line.StartsWith(prefix, StringComparison.Ordinal) ? line[prefix.Length..] : line;
    }
}
