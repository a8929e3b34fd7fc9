using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using LlmMerge.Core.IO;
using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Kernels;
using LlmMerge.Engine.Methods;
using LlmMerge.Modeling.Sources;
using LlmMerge.Modeling.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Execution;

/// <summary>
/// Runs a <see cref="MergePlan"/> tensor by tensor: each input tensor is read from its memory map, merged and
/// handed to a sink (a folder on disk, or a loaded model's parameters), and every libtorch tensor of that step is
/// freed before the next, so peak memory is a few tensors whatever the model's size.
/// </summary>
public sealed class MergeExecutor
{
    private readonly ModelResolver _models;
    private readonly MergeOptions _options;
    private readonly InputTensorCache? _cache;

    /// <param name="models">Resolves and keeps open the models recipes name.</param>
    /// <param name="options">Device, seed, shard size and tokenizer copying.</param>
    /// <param name="cache">Keeps input tensors across runs (a search's candidates); null reads every input afresh.</param>
    public MergeExecutor(ModelResolver models, MergeOptions options, InputTensorCache? cache = null)
    {
        _models = models;
        _options = options;
        _cache = cache;
    }

    /// <summary>Plans and runs a recipe into <paramref name="outDir"/>, which appears whole or not at all; <paramref name="info"/> gets lines on what a preparing method (calibration) is doing.</summary>
    public MergePlan Run(MergeRecipe recipe, string outDir, IProgress<MergeProgress>? progress = null, Action<string>? warn = null, Action<string>? info = null)
    {
        using var sink = new DiskSink(outDir);
        return Run(recipe, sink, progress, warn, info);
    }

    /// <summary>Plans and runs a recipe into <paramref name="sink"/>.</summary>
    public MergePlan Run(MergeRecipe recipe, IMergeSink sink, IProgress<MergeProgress>? progress = null, Action<string>? warn = null, Action<string>? info = null)
    {
        // libtorch starts only when a tensor needs it: fused kernels on the CPU (TIES, task arithmetic, linear into a
        // folder) never do, and loading it costs a third of a second. Another device is resolved now, to fail fast.
        bool cpu = IsCpu(_options.Device);
        var device = cpu ? new Lazy<Device>(() => TorchRuntime.ResolveDevice("cpu")) : new Lazy<Device>(TorchRuntime.ResolveDevice(_options.Device));
        var plan = new MergePlanner(_models.Source).Plan(recipe);
        foreach (var w in plan.Warnings)
            warn?.Invoke(w);
        // Resolved before any tensor is written, so a bad chat_template fails fast.
        string? chatTemplate = ChatTemplate(plan.Recipe);
        var context = new MergeContext(plan, _models, _options, chatTemplate, warn);
        if (recipe.Calibration is not null && plan.Method is not IPreparingMergeMethod)
            warn?.Invoke($"the recipe's calibration block is not read: merge method '{plan.Method.Name}' uses no calibration data");

        // A preparing method's passes over whole models (calibration) run before any tensor is written.
        using var prepared = (plan.Method as IPreparingMergeMethod)?.Prepare(new MergePreparationContext(plan, _models, _options, device.Value, info));
        sink.Begin(context);
        var clock = Stopwatch.StartNew();
        long bytesRead = 0;
        using (var writes = new TensorWriteQueue())
        {
            for (int i = 0; i < plan.Tensors.Count; i++)
            {
                var t = plan.Tensors[i];
                if (i + 1 < plan.Tensors.Count)
                    Prefetch(plan.Tensors[i + 1]);
                bytesRead += ComputeTensor(plan, t, cpu, device, sink, writes, prepared);
                progress?.Report(new MergeProgress(i + 1, plan.Tensors.Count, bytesRead, plan.InputBytes, clock.Elapsed, t.Name));
            }
            var drain = PhaseClock.Start();
            writes.Drain();
            PhaseClock.Stop("wait for the last write", drain);
        }
        StoredBytes.Trim();
        var complete = PhaseClock.Start();
        sink.Complete(context);
        PhaseClock.Stop("complete (flush to disk, metadata)", complete);
        return plan;
    }

    private static bool IsCpu(string? device) => string.IsNullOrWhiteSpace(device) || device.Trim().Equals("cpu", StringComparison.OrdinalIgnoreCase);

    /// <summary>Starts reading the next tensor's inputs from disk while this one computes (inputs kept in a cache are not read).</summary>
    private void Prefetch(PlannedTensor next)
    {
        if (_cache is not null)
            return;
        foreach (var input in next.PassThrough is { } p ? [p] : next.Inputs)
            _models.Source(input.Model).Prefetch(input.TensorName);
    }

    /// <summary>Computes one tensor and queues its write; returns the input bytes read from the models for it.</summary>
    private long ComputeTensor(MergePlan plan, PlannedTensor t, bool cpu, Lazy<Device> device, IMergeSink sink, TensorWriteQueue writes, IMergePreparation? prepared)
    {
        if (t.PassThrough is { } src)
        {
            var source = _models.Source(src.Model);
            var file = source.RawFile(src.TensorName);
            var info = file.GetInfo(src.TensorName);
            writes.Enqueue(() =>
            {
                unsafe
                {
                    byte* p = file.GetPointer(info);
                    for (long off = 0; off < info.ByteLength; off += 1 << 30)
                    {
                        int len = (int)Math.Min(1 << 30, info.ByteLength - off);
                        sink.WriteRaw(t, off, new ReadOnlySpan<byte>(p + off, len));
                    }
                }
                source.Evict(src.TensorName);
            });
            return info.ByteLength;
        }

        if (cpu && !_options.ReferenceKernels && TryComputeFused(plan, t, device, sink, writes, out long fusedRead))
            return fusedRead;

        long bytesRead = 0;
        using var scope = NewDisposeScope();
        var compute = t.ComputeDType.ToScalarType();
        var loaded = new List<Tensor>();
        foreach (var input in t.Inputs)
        {
            var source = _models.Source(input.Model);
            if (_cache is null)
            {
                loaded.Add(source.Load(input.TensorName, compute, device.Value));
                bytesRead += source.Evict(input.TensorName);
                continue;
            }
            loaded.Add(_cache.GetOrLoad(input.Model, input.TensorName, compute, device.Value, () => source.Load(input.TensorName, compute, device.Value), out bool read));
            if (read)
                bytesRead += source.Evict(input.TensorName);
        }
        if (t.Vocabulary is { } vocabulary)
            loaded = vocabulary.Align(t.Name, t.Inputs.Select((x, i) => (x.Model, loaded[i])).ToList(), t.BaseModel);
        var inputs = new List<ModelTensor>();
        for (int i = 0; i < t.Inputs.Count; i++)
        {
            var tensor = loaded[i];
            if (!tensor.shape.SequenceEqual(t.Shape))
                tensor = CommonSubmatrix(tensor, t.Shape);
            inputs.Add(new ModelTensor(t.Inputs[i].Model, tensor, t.Inputs[i].Parameters));
        }
        using var random = new Generator(TensorSeed(_options.RandomSeed, t.Name), device.Value);
        var clock = PhaseClock.Start();
        var merged = plan.Method.Merge(new MergeInputs
        {
            TensorName = t.Name,
            IsEmbedding = t.IsEmbedding,
            Tensors = inputs,
            BaseModel = t.BaseModel,
            Parameters = t.Parameters,
            Random = random,
            InputsShared = _cache is not null,
            Prepared = prepared?.For(t),
            ReferenceKernels = _options.ReferenceKernels,
        });
        PhaseClock.Stop("method (general path)", clock);
        if (!merged.shape.SequenceEqual(t.Shape))
            throw new InvalidOperationException($"merge method '{plan.Method.Name}' returned shape [{string.Join(", ", merged.shape)}] for tensor '{t.Name}', planned [{string.Join(", ", t.Shape)}]");
        // The write outlives this scope; the tensor is freed once it is written.
        merged.DetachFromDisposeScope();
        writes.Enqueue(() =>
        {
            using (merged)
                Write(sink, t, merged);
        });
        return bytesRead;
    }

    private static void Write(IMergeSink sink, PlannedTensor t, Tensor merged)
    {
        var clock = PhaseClock.Start();
        sink.Write(t, merged);
        PhaseClock.Stop("write output (background)", clock);
    }

    /// <summary>
    /// Computes a float32 tensor on the CPU with the method's fused kernel, straight from the inputs' memory maps
    /// (loaded tensors where an input is cached, adapted, or cut to a common submatrix) into the output dtype: stored
    /// bytes for a sink that takes them, else a libtorch tensor. False, before anything is drawn or written, where the
    /// method or the tensor needs the general path.
    /// </summary>
    private unsafe bool TryComputeFused(MergePlan plan, PlannedTensor t, Lazy<Device> device, IMergeSink sink, TensorWriteQueue writes, out long bytesRead)
    {
        bytesRead = 0;
        if (plan.Method is not IFusedMergeMethod method || t.ComputeDType != SafetensorsDType.F32 || !RawTensor.Supports(t.OutDType) || t.Vocabulary is not null)
            return false;
        long n = t.Shape.Aggregate(1L, (a, b) => a * b);
        var inputs = new List<FusedInput>();
        var mapped = new List<(IModelSource Source, string Name)>();
        var evicted = new List<(IModelSource Source, string Name)>();
        var owned = new List<Tensor>();
        try
        {
            foreach (var input in t.Inputs)
            {
                var source = _models.Source(input.Model);
                if (_cache is null && source is FolderModelSource folder)
                {
                    var file = folder.RawFile(input.TensorName);
                    var info = file.GetInfo(input.TensorName);
                    if (RawTensor.Supports(info.DType) && info.Shape.SequenceEqual(t.Shape))
                    {
                        inputs.Add(new FusedInput(input.Model, new RawTensor(file.GetPointer(info), info.DType, n), input.Parameters));
                        mapped.Add((source, input.TensorName));
                        continue;
                    }
                }
                // Cached, adapted or cut inputs come as float32 tensors, read as the general path reads them.
                Tensor loaded;
                if (_cache is null)
                {
                    loaded = source.Load(input.TensorName, ScalarType.Float32, device.Value).DetachFromDisposeScope();
                    owned.Add(loaded);
                    evicted.Add((source, input.TensorName));
                }
                else
                {
                    loaded = _cache.GetOrLoad(input.Model, input.TensorName, ScalarType.Float32, device.Value,
                        () => source.Load(input.TensorName, ScalarType.Float32, device.Value), out bool read);
                    if (read)
                        evicted.Add((source, input.TensorName));
                }
                if (!loaded.shape.SequenceEqual(t.Shape))
                {
                    loaded = CommonSubmatrix(loaded, t.Shape).DetachFromDisposeScope();
                    owned.Add(loaded);
                }
                inputs.Add(new FusedInput(input.Model, new RawTensor(TensorBridge.DataPointer(loaded), SafetensorsDType.F32, n), input.Parameters));
            }
            foreach (var (source, name) in evicted)
                bytesRead += source.Evict(name);

            StoredBytes? stored = null;
            Tensor? tensor = null;
            RawTensor output;
            if (sink.TakesStoredBytes)
            {
                stored = StoredBytes.Rent(n * t.OutDType.SizeOf());
                output = new RawTensor(stored.Pointer, t.OutDType, n);
            }
            else
            {
                _ = device.Value; // starts libtorch
                tensor = empty(t.Shape, t.OutDType.ToScalarType()).DetachFromDisposeScope();
                output = new RawTensor(TensorBridge.DataPointer(tensor), t.OutDType, n);
            }
            var random = new Lazy<Generator>(() => new Generator(TensorSeed(_options.RandomSeed, t.Name), device.Value));
            bool done;
            var clock = PhaseClock.Start();
            try
            {
                done = method.TryMergeFused(new FusedMergeInputs
                {
                    TensorName = t.Name,
                    Shape = t.Shape,
                    Tensors = inputs,
                    BaseModel = t.BaseModel,
                    Parameters = t.Parameters,
                    Random = random,
                }, output);
            }
            catch
            {
                stored?.Dispose();
                tensor?.Dispose();
                throw;
            }
            finally
            {
                if (random.IsValueCreated)
                    random.Value.Dispose();
            }
            PhaseClock.Stop("fused kernels", clock);
            clock = PhaseClock.Start();
            foreach (var (source, name) in mapped)
                bytesRead += source.Evict(name);
            PhaseClock.Stop("release input pages", clock);
            if (!done)
            {
                stored?.Dispose();
                tensor?.Dispose();
                bytesRead = 0; // the general path reads them again
                return false;
            }
            writes.Enqueue(() =>
            {
                var w = PhaseClock.Start();
                if (stored is not null)
                {
                    using (stored)
                        stored.WriteTo((off, bytes) => sink.WriteRaw(t, off, bytes));
                }
                else
                {
                    using (tensor)
                        sink.Write(t, tensor!);
                }
                PhaseClock.Stop("write output (background)", w);
            });
            return true;
        }
        finally
        {
            foreach (var o in owned)
                o.Dispose();
        }
    }

    private static Tensor CommonSubmatrix(Tensor t, long[] shape)
    {
        var r = t;
        for (int d = 0; d < shape.Length; d++)
            r = r.narrow(d, 0, shape[d]);
        return r.contiguous();
    }

    /// <summary>A per-tensor seed: the same tensor gets the same random stream in any order and on any thread.</summary>
    internal static ulong TensorSeed(ulong seed, string tensorName)
    {
        var bytes = Encoding.UTF8.GetBytes($"{seed}:{tensorName}");
        return BitConverter.ToUInt64(SHA256.HashData(bytes), 0) & 0x7FFF_FFFF_FFFF_FFFF;
    }

    /// <summary>The recipe's chat template; for <c>auto</c>, the models are asked in mergekit's order: models, slice sources, base.</summary>
    private string? ChatTemplate(MergeRecipe recipe)
    {
        if (recipe.ChatTemplate is not { } spec)
            return null;
        var models = (recipe.Models ?? []).Select(m => m.Model)
            .Concat((recipe.Slices ?? []).SelectMany(s => s.Sources.Select(x => x.Model)))
            .Append(recipe.BaseModel).OfType<ModelReference>().Distinct();
        return ChatTemplates.Resolve(spec, models.Select(m => _models.Source(m).Directory));
    }
}
