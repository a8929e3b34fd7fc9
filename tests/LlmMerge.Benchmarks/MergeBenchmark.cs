using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmMerge.Benchmarks;

/// <summary>
/// Times every fused method over a generated benchmark set, each contender in its own process (so its peak memory
/// is its own), several runs each, and prints one markdown table: median seconds, input GB/s, the ratio to the I/O
/// floor, how many times faster ours is than the engine's earlier code (the reference kernels), mergekit's way on
/// the same libtorch and plain PyTorch where a python3 with torch is found; peak RSS, CPU seconds and the load
/// average (the machine is shared, so the load is recorded with every run).
/// </summary>
public static class MergeBenchmark
{
    public static readonly string[] AllContenders = ["floor", "ours", "reference", "mergekit", "python"];

    public sealed record Options(string Dir, IReadOnlyList<string> Methods, IReadOnlyList<string> Contenders, int Runs, int SlowRuns);

    private sealed record Sample(double Seconds, double PeakRssGb, double CpuSeconds, double Load);

    public static int Run(Options o)
    {
        string? python = o.Contenders.Contains("python") ? ForwardBenchmark.FindPython() : null;
        Console.WriteLine($"# merge benchmark: {o.Dir}");
        Console.WriteLine($"{Environment.ProcessorCount} cores; start: {Uptime()}");
        var results = new JsonArray();
        var rows = new List<string>();
        foreach (var method in o.Methods)
        {
            var models = BenchmarkRecipes.Models(method);
            double inputGb = models.Sum(m => Directory.GetFiles(Path.Combine(o.Dir, m), "*.safetensors").Sum(f => new FileInfo(f).Length)) / 1e9;
            var samples = new Dictionary<string, List<Sample>>();
            foreach (var contender in o.Contenders)
            {
                if (contender == "python" && python is null)
                    continue;
                int runs = contender is "floor" or "ours" ? o.Runs : o.SlowRuns;
                var list = new List<Sample>();
                for (int r = 0; r < runs; r++)
                {
                    double load = LoadAverage();
                    var (seconds, rss, cpu) = contender == "python" ? RunPython(python!, method, o.Dir) : RunOne(contender, method, o.Dir);
                    // Outputs go as soon as they are timed: a 7B set's would fill the disk.
                    foreach (var output in Directory.GetDirectories(o.Dir, "out-*"))
                        Directory.Delete(output, recursive: true);
                    list.Add(new Sample(seconds, rss, cpu, load));
                    Console.Error.WriteLine($"{method} {contender} run {r + 1}/{runs}: {seconds:F2} s, {rss:F2} GB peak, {cpu:F2} s CPU, load {load:F1}");
                }
                samples[contender] = list;
            }
            double Median(string c) => samples.TryGetValue(c, out var l) ? MedianOf(l.Select(s => s.Seconds)) : double.NaN;
            double ours = Median("ours"), floor = Median("floor");
            foreach (var (contender, list) in samples)
            {
                double med = MedianOf(list.Select(s => s.Seconds));
                string vsOurs = contender is "ours" or "floor" || double.IsNaN(ours) ? "" : $"{med / ours:F1}x";
                rows.Add($"| {method} | {contender} | {list.Count} | {med:F2} | {list.Min(s => s.Seconds):F2}–{list.Max(s => s.Seconds):F2} | "
                    + $"{inputGb / med:F2} | {(double.IsNaN(floor) ? "" : $"{med / floor:F1}")} | {vsOurs} | "
                    + $"{MedianOf(list.Select(s => s.PeakRssGb)):F2} | {MedianOf(list.Select(s => s.CpuSeconds)):F2} | {MedianOf(list.Select(s => s.Load)):F1} |");
                results.Add(new JsonObject
                {
                    ["method"] = method,
                    ["contender"] = contender,
                    ["input_gb"] = inputGb,
                    ["seconds"] = new JsonArray(list.Select(s => (JsonNode)s.Seconds).ToArray()),
                    ["peak_rss_gb"] = new JsonArray(list.Select(s => (JsonNode)s.PeakRssGb).ToArray()),
                    ["cpu_seconds"] = new JsonArray(list.Select(s => (JsonNode)s.CpuSeconds).ToArray()),
                    ["load_1min"] = new JsonArray(list.Select(s => (JsonNode)s.Load).ToArray()),
                });
            }
        }
        Console.WriteLine($"end: {Uptime()}");
        Console.WriteLine();
        Console.WriteLine("| method | contender | runs | median s | min–max s | input GB/s | × floor | × ours | peak RSS GB | CPU s | load (1 min) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var row in rows)
            Console.WriteLine(row);
        File.WriteAllText(Path.Combine(o.Dir, "bench-results.json"), results.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        if (python is null && o.Contenders.Contains("python"))
            Console.WriteLine("\nPyTorch not run: no python3 with torch found (set PYTHON, or apt-get install python3-torch for a manual run).");
        return 0;
    }

    private static double MedianOf(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    public static string Uptime() => File.Exists("/proc/loadavg") ? "load average " + File.ReadAllText("/proc/loadavg").Trim() : "load average unknown";

    private static double LoadAverage() =>
        File.Exists("/proc/loadavg") ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture) : double.NaN;

    /// <summary>One contender in a fresh process of this executable: its last output line is seconds, peak RSS and CPU seconds.</summary>
    private static (double, double, double) RunOne(string mode, string method, string dir)
    {
        string self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            psi.ArgumentList.Add(typeof(MergeBenchmark).Assembly.Location);
        foreach (var a in new[] { "run-one", mode, method, dir })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{mode} {method} failed:\n{output}");
        var parts = output.Trim().Split('\n')[^1].Split('\t');
        return (Parse(parts[0]), Parse(parts[1]), Parse(parts[2]));
    }

    private static (double, double, double) RunPython(string python, string method, string dir)
    {
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { ScriptPath(), method, dir, Path.Combine(dir, "out-python"), Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        psi.Environment["OMP_NUM_THREADS"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{python} merge_baseline.py {method} failed ({p.ExitCode}): {stderr.Result}");
        var json = (JsonObject)JsonNode.Parse(output.Trim().Split('\n')[^1])!;
        return ((double)json["seconds"]!, (double)json["peak_rss_gb"]!, (double)json["cpu_seconds"]!);
    }

    private static double Parse(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    // Copied beside the executable by the project (source paths are mapped away in the build).
    private static string ScriptPath() => Path.Combine(AppContext.BaseDirectory, "python", "merge_baseline.py");
}
