using System.Globalization;

namespace LlmMerge.Build;

/// <summary>
/// Follows the peak resident memory (VmHWM) of this process's child whose command line names the tool. The
/// kernel keeps the high-water mark itself, so polling only has to see the child before it exits; the last
/// reading is the peak up to that moment. Linux only; elsewhere the peak reads 0 ("not measured").
/// </summary>
internal sealed class PeakMemoryWatcher : IDisposable
{
    private readonly string _toolName;
    private readonly Thread? _thread;
    private volatile bool _stop;
    private long _peak;
    private int _child;

    public PeakMemoryWatcher(string toolName)
    {
        _toolName = toolName;
        if (!OperatingSystem.IsLinux())
            return;
        _thread = new Thread(Poll) { IsBackground = true, Name = "llmmerge peak memory" };
        _thread.Start();
    }

    public long Stop()
    {
        _stop = true;
        _thread?.Join();
        return Interlocked.Read(ref _peak);
    }

    public void Dispose() => Stop();

    private void Poll()
    {
        int me = Environment.ProcessId;
        while (!_stop)
        {
            if (_child == 0)
                _child = FindChild(me);
            if (_child != 0)
            {
                long hwm = ReadHighWaterMark(_child);
                if (hwm > Interlocked.Read(ref _peak))
                    Interlocked.Exchange(ref _peak, hwm);
            }
            Thread.Sleep(_child == 0 ? 10 : 50);
        }
    }

    private int FindChild(int parent)
    {
        try
        {
            foreach (string dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == parent)
                    continue;
                try
                {
                    string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    // The command name in parentheses may hold spaces; the fields after its ')' are fixed.
                    string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    if (fields.Length > 1 && fields[1] == parent.ToString(CultureInfo.InvariantCulture)
                        && File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(_toolName, StringComparison.Ordinal))
                        return pid;
                }
                catch (IOException)
                {
                    // The process ended while we looked.
                }
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    private static long ReadHighWaterMark(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return 0;
    }
}
