using System.Diagnostics;
using System.Globalization;
using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Methods;
using LlmMerge.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Calibration;

/// <summary>
/// RegMean++'s statistics (Nguyen et al. 2025, as FusionBench's RegMeanAlgorithmPlusPlus in
/// fusion_bench/method/regmean_plusplus/regmean_plusplus.py at commit 54c9e8c9): the merged model starts as the
/// base (else the first model) with the models' mean embeddings; each model's rows enter layer 0 through it; then,
/// layer by layer, each model's own layer is run on the inputs the merged model gives that model's rows, its
/// projections' Gram matrices are kept, the layer is merged (RegMean for projections, the mean for the rest, the
/// base for excluded tensors) and the merged layer makes the next layer's inputs. FusionBench's CLIP version stops
/// after the last layer; a causal LM's head is one more stage here: each model's final norm and lm_head read the
/// merged model's last hidden states, so lm_head is merged by RegMean as in plain RegMean. The Gram matrices depend
/// on every model, the ratio and the exclusions, so they are cached under all of them.
/// </summary>
internal static class RegMeanPlusPlusStatistics
{
    private const string Version = "regmean-plusplus-v1";

    /// <summary>The per-tensor settings the merged layers are computed with: reduce_non_diagonal_ratio and the exclude patterns.</summary>
    public delegate (double Ratio, IReadOnlyList<string> Exclude) Settings(string tensorName);

    public static Dictionary<ModelReference, SafetensorsFile> Get(CalibrationContext context, IReadOnlyList<string> tensorNames, Settings settings)
    {
        var key = new List<string> { Version, context.BaseModel is { } b ? context.FingerprintOf(b) : "no-base" };
        foreach (var name in tensorNames)
        {
            var (r, x) = settings(name);
            key.Add($"{name}={r.ToString("R", CultureInfo.InvariantCulture)}|{string.Join("\u0001", x)}");
        }
        foreach (var m in context.Models)
            key.AddRange([context.FingerprintOf(m), context.RowsOf(m).Fingerprint]);
        var paths = context.Models.Select((m, i) => context.Cache.PathFor("regmean_plusplus", [.. key, i.ToString(CultureInfo.InvariantCulture)])).ToList();
        var cached = paths.Select(StatisticsCache.TryOpen).ToList();
        if (cached.All(f => f is not null))
        {
            context.Info($"layer-by-layer Gram matrices read from the cache ({Path.GetDirectoryName(paths[0])})");
            return context.Models.Select((m, i) => (m, cached[i]!)).ToDictionary(x => x.m, x => x.Item2);
        }
        foreach (var f in cached)
            f?.Dispose();

        var clock = Stopwatch.StartNew();
        var grams = context.Models.ToDictionary(m => m, _ => new GramAccumulator(context.Device));
        try
        {
            Compute(context, settings, grams);
            for (int i = 0; i < context.Models.Count; i++)
                GramStatistics.Save(paths[i], grams[context.Models[i]], context.RowsOf(context.Models[i]));
        }
        finally
        {
            foreach (var g in grams.Values)
                g.Dispose();
        }
        context.Info($"layer-by-layer Gram matrices of {context.Models.Count} models: {clock.Elapsed.TotalSeconds:F1} s, cached in {Path.GetDirectoryName(paths[0])}");
        return context.Models.Select((m, i) => (m, SafetensorsFile.Open(paths[i]))).ToDictionary(x => x.m, x => x.Item2);
    }

    private static void Compute(CalibrationContext context, Settings settings, Dictionary<ModelReference, GramAccumulator> grams)
    {
        var reference = context.BaseModel ?? context.Models[0];
        using var merged = context.LoadModel(reference);
        using var noGrad = no_grad();
        var config = merged.Config;
        var parameters = merged.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter, StringComparer.Ordinal);
        string embed = parameters.Keys.First(n => n.EndsWith("embed_tokens.weight", StringComparison.Ordinal));

        // 1. The merged embeddings: the models' mean.
        Assign(context, parameters, [embed], settings, null);

        // 1.1 Each model's rows enter layer 0 through the merged embeddings.
        var hidden = new Dictionary<ModelReference, List<Tensor>>();
        try
        {
            foreach (var m in context.Models)
            {
                hidden[m] = context.RowsOf(m).Rows.Select(r =>
                {
                    using var ids = tensor(r.Tokens.Select(t => (long)t).ToArray(), device: context.Device).view(1, -1);
                    return merged.HiddenStates(ids, null, false, stopBeforeLayer: 0).DetachFromDisposeScope();
                }).ToList();
            }
            var inverseFrequencies = RotaryEmbedding.InverseFrequencies(config).Select(f => (float)f).ToArray();
            var layers = merged.Model.Layers;
            var progress = Stopwatch.StartNew();
            for (int l = 0; l < layers.Count; l++)
            {
                string prefix = $"model.layers.{l}.";
                var names = parameters.Keys.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
                // 2.1 Each model's own layer on the inputs the merged model gives its rows.
                foreach (var m in context.Models)
                {
                    Copy(context, m, parameters, names);
                    using (merged.Capture(new ActivationCapture { ProjectionInput = grams[m].Add, ProjectionFilter = n => n.StartsWith(prefix, StringComparison.Ordinal) }))
                        RunLayer(layers[l], l, config, inverseFrequencies, hidden[m], grams[m], context.Device, keepOutputs: false);
                }
                // 2.2 The merged layer, then 2.3 the next layer's inputs.
                Assign(context, parameters, names, settings, grams);
                foreach (var m in context.Models)
                    hidden[m] = RunLayer(layers[l], l, config, inverseFrequencies, hidden[m], null, context.Device, keepOutputs: true)!;
                if (progress.Elapsed.TotalSeconds >= 5 || l == layers.Count - 1)
                {
                    context.Info($"layer {l + 1}/{layers.Count} merged");
                    progress.Restart();
                }
            }

            // 3. The head: each model's final norm and lm_head on the merged model's last hidden states.
            if (parameters.ContainsKey("lm_head.weight"))
            {
                var norm = (nn.Module<Tensor, Tensor>)merged.named_modules().First(x => x.name == "model.norm").module;
                var headNames = parameters.Keys.Where(n => n.StartsWith("model.norm.", StringComparison.Ordinal) || n.StartsWith("lm_head.", StringComparison.Ordinal)).ToList();
                foreach (var m in context.Models)
                {
                    Copy(context, m, parameters, headNames);
                    using (merged.Capture(new ActivationCapture { ProjectionInput = grams[m].Add, ProjectionFilter = n => n == "lm_head" }))
                    {
                        foreach (var h in hidden[m])
                        {
                            using var scope = NewDisposeScope();
                            grams[m].BeginRow();
                            merged.Logits(norm.forward(h));
                        }
                    }
                }
            }
        }
        finally
        {
            foreach (var list in hidden.Values)
                foreach (var h in list)
                    h.Dispose();
        }
    }

    /// <summary>Runs one decoder layer on each stored row; returns the outputs when asked (the inputs are then disposed).</summary>
    private static List<Tensor>? RunLayer(DecoderLayer layer, int index, CausalLmConfig config, float[] inverseFrequencies, List<Tensor> inputs,
        GramAccumulator? grams, Device device, bool keepOutputs)
    {
        var outputs = keepOutputs ? new List<Tensor>(inputs.Count) : null;
        foreach (var h in inputs)
        {
            using var scope = NewDisposeScope();
            long seq = h.shape[1];
            grams?.BeginRow();
            var (cos, sin) = RotaryEmbedding.CosSin(inverseFrequencies, 0, seq, device, h.dtype);
            using var mask = AttentionMask.Build(0, seq, config.UsesSlidingWindow(index) ? config.SlidingWindow : null, device);
            var y = layer.Forward(new DecoderLayerInput { HiddenStates = h, Cos = cos, Sin = sin, Mask = mask, Cache = null, LayerIndex = index, Store = false }).HiddenStates;
            outputs?.Add(y.DetachFromDisposeScope());
        }
        if (keepOutputs)
        {
            foreach (var h in inputs)
                h.Dispose();
        }
        return outputs;
    }

    /// <summary>Copies model <paramref name="model"/>'s values of <paramref name="names"/> into the merged model.</summary>
    private static void Copy(CalibrationContext context, ModelReference model, Dictionary<string, Tensor> parameters, IReadOnlyList<string> names)
    {
        var source = context.Source(model);
        foreach (var name in names)
        {
            using var scope = NewDisposeScope();
            if (!source.Contains(name))
                throw new LlmMergeException($"regmean_plusplus: model '{model}' has no tensor '{name}'; the models must share one architecture");
            parameters[name].copy_(source.Load(name, ScalarType.Float32, context.Device));
        }
    }

    /// <summary>Sets <paramref name="names"/> in the merged model as the final merge will compute them.</summary>
    private static void Assign(CalibrationContext context, Dictionary<string, Tensor> parameters, IReadOnlyList<string> names, Settings settings,
        Dictionary<ModelReference, GramAccumulator>? grams)
    {
        foreach (var name in names)
        {
            using var scope = NewDisposeScope();
            var (ratio, exclude) = settings(name);
            if (NameFilters.ExcludesByRegex(exclude, name, "regmean_plusplus"))
            {
                var b = context.BaseModel ?? throw new LlmMergeException($"regmean_plusplus: tensor '{name}' is excluded, so it keeps the base model's value, but the recipe names no base_model");
                parameters[name].copy_(context.Source(b).Load(name, ScalarType.Float32, context.Device));
                continue;
            }
            var values = context.Models.Select(m => context.Source(m).Load(name, ScalarType.Float32, context.Device)).ToList();
            string module = name.EndsWith(".weight", StringComparison.Ordinal) ? name[..^".weight".Length] : "";
            Tensor value = grams is not null && module.Length > 0 && context.Models.All(m => grams[m].Has(module))
                ? RegMeanMath.Solve(values, context.Models.Select(m => grams[m].Mean(module)).ToList(), ratio, name)
                : RegMeanMath.Mean(values);
            parameters[name].copy_(value);
        }
    }
}
