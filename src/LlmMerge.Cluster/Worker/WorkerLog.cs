namespace LlmMerge.Cluster.Worker;

/// <summary>The worker's own lines on standard output ("llmmerge worker: ..."), one at a time, flushed, with a UTC time.</summary>
internal sealed class WorkerLog(TextWriter writer)
{
    private readonly TextWriter _out = TextWriter.Synchronized(writer);

    public TextWriter Out => new LineWriter(this);

    public void Line(string text)
    {
        _out.WriteLine($"llmmerge worker: {DateTime.UtcNow:HH:mm:ss.fff} {text}");
        _out.Flush();
    }

    private sealed class LineWriter(WorkerLog log) : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;
        public override void WriteLine(string? value) => log.Line(value ?? "");
    }
}
