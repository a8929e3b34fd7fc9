using System.Diagnostics;
using System.Globalization;
using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Calibration;

/// <summary>
/// Fisher merging's statistics: each parameter's diagonal empirical Fisher, the squared gradient of the
/// log-likelihood of a row's target tokens given its context, averaged over the rows (FusionBench's
/// <c>get_param_squared_gradients</c> summed over batches and divided by the examples seen; with
/// <c>batch_size</c> above 1 the gradients of a batch's rows are summed before squaring, as its batches are).
/// FusionBench's classifiers take the expectation over labels (√p · log p); a language model's row has one target,
/// so this is the empirical Fisher. Rows without a target are skipped. Gradients in float32.
/// </summary>
internal static class FisherDiagonals
{
    private const string Version = "fisher-v1";

    public const string RowsKey = "rows_used";

    public static SafetensorsFile Get(CalibrationContext context, ModelReference model)
    {
        var rows = context.RowsOf(model);
        int batch = context.Settings.BatchSize;
        string path = context.Cache.PathFor("fisher", Version, context.FingerprintOf(model), rows.Fingerprint, batch.ToString(CultureInfo.InvariantCulture));
        if (StatisticsCache.TryOpen(path) is { } cached)
        {
            context.Info($"Fisher diagonals of '{model}' read from the cache ({path})");
            return cached;
        }
        var labeled = rows.Rows.Where(r => r.Target.Count > 0).ToList();
        if (labeled.Count == 0)
            throw new LlmMergeException($"fisher: none of the calibration rows of model '{model}' ({rows.Description}) has a target; the Fisher needs the log-likelihood of answers");

        var clock = Stopwatch.StartNew();
        using var m = context.LoadModel(model);
        var parameters = m.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        foreach (var (_, p) in parameters)
            p.requires_grad = true;
        var fisher = parameters.ToDictionary(p => p.name, p => zeros_like(p.parameter).DetachFromDisposeScope(), StringComparer.Ordinal);
        try
        {
            var progress = Stopwatch.StartNew();
            for (int start = 0; start < labeled.Count; start += batch)
            {
                // The squares (and the grad handles) are temporaries of a model's size: freed every batch, or a
                // 1.25 GB model's Fisher pass grew by a model's worth of float32 per row until it ran out of memory.
                using (NewDisposeScope())
                {
                    foreach (var (_, p) in parameters)
                        p.grad?.zero_();
                }
                foreach (var row in labeled.Skip(start).Take(batch))
                {
                    using var scope = NewDisposeScope();
                    LogLikelihood(m, row, context.Device).backward();
                }
                using (no_grad())
                using (NewDisposeScope())
                {
                    foreach (var (name, p) in parameters)
                    {
                        if (p.grad is { } g)
                            fisher[name].add_(g.square());
                    }
                }
                if (progress.Elapsed.TotalSeconds >= 5 || start + batch >= labeled.Count)
                {
                    context.Info($"'{model}': {Math.Min(start + batch, labeled.Count)}/{labeled.Count} rows");
                    progress.Restart();
                }
            }
            using var save = NewDisposeScope();
            StatisticsCache.Write(path, fisher.Select(kv => (kv.Key, kv.Value.div(labeled.Count))).ToList(), new Dictionary<string, string>
            {
                ["format"] = "pt",
                ["statistic"] = "diagonal empirical fisher: mean squared gradient of the target log-likelihood",
                [RowsKey] = labeled.Count.ToString(CultureInfo.InvariantCulture),
                ["batch_size"] = batch.ToString(CultureInfo.InvariantCulture),
                ["rows"] = rows.Description,
            });
        }
        finally
        {
            foreach (var f in fisher.Values)
                f.Dispose();
        }
        context.Info($"Fisher diagonals of '{model}' on {labeled.Count} rows: {clock.Elapsed.TotalSeconds:F1} s, cached at {path}");
        return SafetensorsFile.Open(path);
    }

    /// <summary>Σ log p(target token | everything before it) over the row's target tokens.</summary>
    internal static Tensor LogLikelihood(Modeling.DecoderForCausalLM model, CalibrationRow row, Device device)
    {
        var tokens = row.Tokens;
        using var ids = tensor(tokens.Select(t => (long)t).ToArray(), device: device).view(1, -1);
        var logits = model.forward(ids)[0];
        // Position j predicts token j + 1; a target cut to the whole window loses its first token's prediction.
        int first = Math.Max(row.Context.Count, 1);
        int count = tokens.Length - first;
        var logProbs = nn.functional.log_softmax(logits.narrow(0, first - 1, count), -1);
        using var targets = tensor(tokens.Skip(first).Select(t => (long)t).ToArray(), device: device);
        return logProbs.gather(1, targets.unsqueeze(1)).sum();
    }
}
