using System.Collections.Concurrent;
using System.Diagnostics;

namespace LlmMerge.Engine.Kernels;

/// <summary>
/// Wall time per phase of a merge (kernel passes, writing, page release), summed over tensors, for the benchmark's
/// profile of what bounds a merge. Off unless <see cref="Enabled"/> is set; then each phase costs two timestamps.
/// </summary>
internal static class PhaseClock
{
    private static readonly ConcurrentDictionary<string, long> Ticks = new();

    public static bool Enabled { get; set; }

    public static long Start() => Enabled ? Stopwatch.GetTimestamp() : 0;

    public static void Stop(string phase, long started)
    {
        if (Enabled)
            Ticks.AddOrUpdate(phase, Stopwatch.GetTimestamp() - started, (_, t) => t + Stopwatch.GetTimestamp() - started);
    }

    /// <summary>Seconds per phase so far, largest first.</summary>
    public static IReadOnlyList<(string Phase, double Seconds)> Snapshot() =>
        Ticks.Select(kv => (kv.Key, kv.Value / (double)Stopwatch.Frequency)).OrderByDescending(p => p.Item2).ToList();

    public static void Reset() => Ticks.Clear();
}
