using System.Diagnostics;
using System.Runtime.Intrinsics;
using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Kernels;
using LlmMerge.Engine.Methods;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Benchmarks;

/// <summary>
/// Times the fused kernels on single tensors of a generated benchmark set, inputs resident in memory (their pages
/// touched first), output into memory: what the arithmetic costs without disk or page cache, next to a pass that
/// only reads every input byte (memory bandwidth) and one that only widens bf16 to float32.
/// </summary>
public static class KernelBenchmark
{
    public static unsafe int Run(string dir, int rounds, IReadOnlyList<string> tensorNames, IReadOnlyList<string> methods)
    {
        TorchRuntime.Initialize();
        string[] names = ["base", "expert-1", "expert-2", "expert-3"];
        var folders = names.Select(m => ModelFolder.Open(Path.Combine(dir, m))).ToList();
        var tensorsToTime = tensorNames.Count > 0 ? tensorNames : ["model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.self_attn.k_proj.weight"];
        Console.WriteLine($"kernels on {Environment.ProcessorCount} cores, best of {rounds}; load: {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine("| tensor | elements | contender | wall ms | CPU ms | CPU ns / element / input | input GB/s at CPU time / cores |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var name in tensorsToTime)
        {
            var infos = folders.Select(f => (File: f.GetFile(name), Info: f.GetInfo(name))).ToList();
            long n = infos[0].Info.ElementCount;
            long inputBytes = infos.Sum(i => i.Info.ByteLength);
            var raws = infos.Select(i => new RawTensor(i.File.GetPointer(i.Info), i.Info.DType, n)).ToList();
            using var output = empty(infos[0].Info.Shape, ScalarType.BFloat16);
            var outRaw = new RawTensor(TensorBridge.DataPointer(output), Core.SafeTensors.SafetensorsDType.BF16, n);
            void Report(string contender, (double Wall, double Cpu) t) =>
                Console.WriteLine($"| {name} | {n} | {contender} | {t.Wall * 1e3:F1} | {t.Cpu * 1e3:F1} | {t.Cpu * 1e9 / n / raws.Count:F3} | {inputBytes / (t.Cpu / Environment.ProcessorCount) / 1e9:F2} |");

            Report("read every input byte (2 cores)", Best(rounds, () => ReadAll(raws, n)));
            Report("widen bf16 to f32 (2 cores)", Best(rounds, () => Widen(raws, n)));
            foreach (var method in methods)
            {
                var m = (IFusedMergeMethod)MergeMethodRegistry.Get(method);
                var inputs = Inputs(m, name, infos[0].Info.Shape, raws);
                var t = Best(rounds, () =>
                {
                    using var g = new Generator(1);
                    if (!m.TryMergeFused(inputs(g), outRaw))
                        throw new InvalidOperationException($"{method} did not run fused");
                });
                Report(method, t);
                PhaseClock.Enabled = true;
                PhaseClock.Reset();
                using (var g = new Generator(1))
                    m.TryMergeFused(inputs(g), outRaw);
                PhaseClock.Enabled = false;
                foreach (var (phase, sec, cpu) in PhaseClock.Snapshot())
                    Console.WriteLine($"|  |  | - {phase} | {sec * 1e3:F1} | {cpu * 1e3:F1} | | |");
            }
        }
        foreach (var f in folders)
            f.Dispose();
        return 0;
    }

    private static Func<Generator, FusedMergeInputs> Inputs(IMergeMethod m, string name, long[] shape, List<RawTensor> raws)
    {
        var refs = new[] { "base", "expert-1", "expert-2", "expert-3" }.Select(r => new ModelReference(r)).ToList();
        double[] weights = [1.0, 1.0, 0.8, 0.6];
        var models = m.Name == "slerp" ? 2 : 4;
        var globals = new Dictionary<string, object?> { ["t"] = 0.4 };
        foreach (var p in m.Parameters)
            globals.TryAdd(p.Name, p.Default);
        var tensors = Enumerable.Range(0, models).Select(i =>
        {
            var tp = new Dictionary<string, object?> { ["weight"] = weights[i], ["density"] = 0.5 };
            foreach (var p in m.TensorParameters)
                tp.TryAdd(p.Name, p.Default);
            return new FusedInput(refs[i], raws[i], tp);
        }).ToList();
        return g => new FusedMergeInputs { TensorName = name, Shape = shape, Tensors = tensors, BaseModel = refs[0], Parameters = globals, Random = new Lazy<Generator>(() => g) };
    }

    /// <summary>Best wall time and best CPU time (all threads of the process) of several runs.</summary>
    private static (double Wall, double Cpu) Best(int rounds, Action action)
    {
        action(); // pages touched, code compiled
        double wall = double.MaxValue, cpu = double.MaxValue;
        var process = Process.GetCurrentProcess();
        for (int i = 0; i < rounds; i++)
        {
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            action();
            wall = Math.Min(wall, sw.Elapsed.TotalSeconds);
            process.Refresh();
            cpu = Math.Min(cpu, (process.TotalProcessorTime - cpu0).TotalSeconds);
        }
        return (wall, cpu);
    }

    private static unsafe void ReadAll(List<RawTensor> raws, long n)
    {
        var bounds = KernelParallel.Ranges(n);
        KernelParallel.For(bounds.Length - 1, r =>
        {
            var acc = Vector256<uint>.Zero;
            foreach (var t in raws)
            {
                int size = t.DType.SizeOf();
                byte* p = (byte*)t.Address + bounds[r] * size;
                long bytes = (bounds[r + 1] - bounds[r]) * size;
                for (long i = 0; i + 32 <= bytes; i += 32)
                    acc |= Vector256.Load((uint*)(p + i));
            }
            if (acc == Vector256<uint>.AllBitsSet)
                Console.Write("");
        });
    }

    private static unsafe void Widen(List<RawTensor> raws, long n)
    {
        var bounds = KernelParallel.Ranges(n);
        KernelParallel.For(bounds.Length - 1, r =>
        {
            using var scratch = new KernelScratch(1);
            foreach (var t in raws)
            {
                for (long start = bounds[r]; start < bounds[r + 1]; start += KernelParallel.Block)
                    t.Read(start, (int)Math.Min(KernelParallel.Block, bounds[r + 1] - start), scratch[0]);
            }
        });
    }
}
