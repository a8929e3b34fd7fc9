using System.Collections.Concurrent;
using System.Diagnostics;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// Wall and CPU time per phase of a merge (kernel passes, writing, page release), summed over tensors, for the
/// benchmark's profile of what bounds a merge. Phases run one after another (each may use every core), so the
/// process's CPU time across a phase is that phase's, give or take the background writer. Off unless
/// <see cref="Enabled"/> is set; then each phase costs two clock reads.
/// </summary>
internal static class PhaseClock
{
    private static readonly ConcurrentDictionary<string, (long Ticks, TimeSpan Cpu)> Totals = new();

    public static bool Enabled { get; set; }

    public readonly record struct Mark(long Ticks, TimeSpan Cpu);

    public static Mark Start() => Enabled ? new Mark(Stopwatch.GetTimestamp(), Environment.CpuUsage.TotalTime) : default;

    public static void Stop(string phase, Mark started)
    {
        if (!Enabled)
            return;
        long ticks = Stopwatch.GetTimestamp() - started.Ticks;
        var cpu = Environment.CpuUsage.TotalTime - started.Cpu;
        Totals.AddOrUpdate(phase, (ticks, cpu), (_, t) => (t.Ticks + ticks, t.Cpu + cpu));
    }

    /// <summary>Wall and CPU seconds per phase so far, largest wall time first.</summary>
    public static IReadOnlyList<(string Phase, double Seconds, double CpuSeconds)> Snapshot() =>
        Totals.Select(kv => (kv.Key, kv.Value.Ticks / (double)Stopwatch.Frequency, kv.Value.Cpu.TotalSeconds)).OrderByDescending(p => p.Item2).ToList();

    public static void Reset() => Totals.Clear();
}
