using System.Diagnostics;
using System.Globalization;

namespace LlmMerge.Eval.Scoring;

/// <summary>The process's peak resident memory: Linux's VmHWM (native libtorch memory included), else .NET's peak working set.</summary>
public static class PeakMemory
{
    /// <summary>Peak resident bytes of this process so far.</summary>
    public static long Bytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                string kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                if (long.TryParse(kb, NumberStyles.None, CultureInfo.InvariantCulture, out long k)) return k * 1024;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }

        using var self = Process.GetCurrentProcess();
        return self.PeakWorkingSet64;
    }
}
