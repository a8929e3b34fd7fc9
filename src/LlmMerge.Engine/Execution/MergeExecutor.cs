using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using LlmMerge.Core.IO;
using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
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
        TorchRuntime.Initialize();
        var device = TorchRuntime.ResolveDevice(_options.Device);
        var plan = new MergePlanner(_models.Source).Plan(recipe);
        foreach (var w in plan.Warnings)
            warn?.Invoke(w);
        // Resolved before any tensor is written, so a bad chat_template fails fast.
        string? chatTemplate = ChatTemplate(plan.Recipe);
        var context = new MergeContext(plan, _models, _options, chatTemplate, warn);
        if (recipe.Calibration is not null && plan.Method is not IPreparingMergeMethod)
            warn?.Invoke($"the recipe's calibration block is not read: merge method '{plan.Method.Name}' uses no calibration data");

        // A preparing method's passes over whole models (calibration) run before any tensor is written.
        using var prepared = (plan.Method as IPreparingMergeMethod)?.Prepare(new MergePreparationContext(plan, _models, _options, device, info));
        sink.Begin(context);
        var clock = Stopwatch.StartNew();
        long bytesRead = 0;
        for (int i = 0; i < plan.Tensors.Count; i++)
        {
            var t = plan.Tensors[i];
            bytesRead += ComputeTensor(plan, t, device, sink, prepared);
            progress?.Report(new MergeProgress(i + 1, plan.Tensors.Count, bytesRead, plan.InputBytes, clock.Elapsed, t.Name));
        }
        sink.Complete(context);
        return plan;
    }

    /// <summary>Computes one tensor into the sink; returns the input bytes read from the models for it.</summary>
    private long ComputeTensor(MergePlan plan, PlannedTensor t, Device device, IMergeSink sink, IMergePreparation? prepared)
    {
        if (t.PassThrough is { } src)
        {
            var file = _models.Source(src.Model).RawFile(src.TensorName);
            var info = file.GetInfo(src.TensorName);
            unsafe
            {
                byte* p = file.GetPointer(info);
                for (long off = 0; off < info.ByteLength; off += 1 << 30)
                {
                    int len = (int)Math.Min(1 << 30, info.ByteLength - off);
                    sink.WriteRaw(t, off, new ReadOnlySpan<byte>(p + off, len));
                }
            }
            return _models.Source(src.Model).Evict(src.TensorName);
        }

        long bytesRead = 0;
        using var scope = NewDisposeScope();
        var compute = t.ComputeDType.ToScalarType();
        var loaded = new List<Tensor>();
        foreach (var input in t.Inputs)
        {
            var source = _models.Source(input.Model);
            if (_cache is null)
            {
                loaded.Add(source.Load(input.TensorName, compute, device));
                bytesRead += source.Evict(input.TensorName);
                continue;
            }
            loaded.Add(_cache.GetOrLoad(input.Model, input.TensorName, compute, device, () => source.Load(input.TensorName, compute, device), out bool read));
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
        using var random = new Generator(TensorSeed(_options.RandomSeed, t.Name), device);
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
        });
        if (!merged.shape.SequenceEqual(t.Shape))
            throw new InvalidOperationException($"merge method '{plan.Method.Name}' returned shape [{string.Join(", ", merged.shape)}] for tensor '{t.Name}', planned [{string.Join(", ", t.Shape)}]");
        sink.Write(t, merged);
        return bytesRead;
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
