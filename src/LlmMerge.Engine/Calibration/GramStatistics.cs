using System.Diagnostics;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Calibration;

/// <summary>
/// RegMean's statistics: for every linear projection, the mean of x xᵀ over every token position of the calibration
/// rows (FusionBench's <c>regmean_weights</c>: XᵀX divided by the number of rows of X, batch × sequence), stored under
/// the projection's module name. Products are float32 per row, summed in float64.
/// </summary>
internal static class GramStatistics
{
    /// <summary>Bumped when what is stored changes, so old cache entries are not read.</summary>
    private const string Version = "gram-v1";

    public const string TokensKey = "tokens";

    /// <summary>The cached Gram matrices of <paramref name="model"/> on its rows, computed first where absent.</summary>
    public static SafetensorsFile Get(CalibrationContext context, Core.Recipes.ModelReference model)
    {
        var rows = context.RowsOf(model);
        string path = context.Cache.PathFor("regmean", Version, context.FingerprintOf(model), rows.Fingerprint);
        if (StatisticsCache.TryOpen(path) is { } cached)
        {
            context.Info($"Gram matrices of '{model}' read from the cache ({path})");
            return cached;
        }
        var clock = Stopwatch.StartNew();
        using (var m = context.LoadModel(model))
        {
            using var sums = new GramAccumulator(context.Device);
            using (m.Capture(new ActivationCapture { ProjectionInput = sums.Add }))
                Run(m, rows, sums, context, $"'{model}'");
            Save(path, sums, rows);
        }
        context.Info($"Gram matrices of '{model}' on {rows.Description}: {clock.Elapsed.TotalSeconds:F1} s, cached at {path}");
        return SafetensorsFile.Open(path);
    }

    /// <summary>Runs every row through <paramref name="model"/> (full logits, so the head sees every position too).</summary>
    internal static void Run(DecoderForCausalLM model, CalibrationRows rows, GramAccumulator sums, CalibrationContext context, string label)
    {
        var progress = Stopwatch.StartNew();
        using var noGrad = no_grad();
        for (int i = 0; i < rows.Rows.Count; i++)
        {
            using var scope = NewDisposeScope();
            var tokens = rows.Rows[i].Tokens;
            using var ids = tensor(tokens.Select(t => (long)t).ToArray(), device: context.Device).view(1, -1);
            sums.BeginRow();
            model.forward(ids);
            if (progress.Elapsed.TotalSeconds >= 5 || i == rows.Rows.Count - 1)
            {
                context.Info($"{label}: {i + 1}/{rows.Rows.Count} rows");
                progress.Restart();
            }
        }
    }

    internal static void Save(string path, GramAccumulator sums, CalibrationRows rows)
    {
        using var scope = NewDisposeScope();
        var tensors = sums.Names.Select(n => (n, sums.Mean(n))).ToList();
        StatisticsCache.Write(path, tensors, new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["statistic"] = "regmean gram: mean of x x^T over token positions",
            [TokensKey] = sums.Tokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["rows"] = rows.Description,
        });
    }
}

/// <summary>Per projection Σ xᵀx in float64; projections fed the same tensor in one call (q, k, v; gate, up) share one product.</summary>
internal sealed class GramAccumulator(Device device) : IDisposable
{
    private readonly Dictionary<string, Tensor> _sums = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Parent, IntPtr Input), Tensor> _shared = new();

    public IEnumerable<string> Names => _sums.Keys;

    /// <summary>Token positions seen by the projection seen most (every projection sees every position).</summary>
    public long Tokens => _tokens.Count == 0 ? 0 : _tokens.Values.Max();

    /// <summary>Called before each row's pass: products shared within one pass are dropped.</summary>
    public void BeginRow()
    {
        foreach (var t in _shared.Values)
            t.Dispose();
        _shared.Clear();
    }

    /// <summary>The capture callback: adds xᵀx of the projection's input [batch, seq, in].</summary>
    public void Add(string projection, Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.reshape(-1, input.shape[^1]);
        // An input alive in its parent module's call cannot share its handle with another input captured there.
        int dot = projection.LastIndexOf('.');
        var key = (dot < 0 ? "" : projection[..dot], input.Handle);
        if (!_shared.TryGetValue(key, out var xtx))
        {
            xtx = x.to(ScalarType.Float32).t().matmul(x.to(ScalarType.Float32)).to(ScalarType.Float64).DetachFromDisposeScope();
            _shared[key] = xtx;
        }
        if (!_sums.TryGetValue(projection, out var sum))
        {
            _sums[projection] = sum = zeros(xtx.shape, ScalarType.Float64, device).DetachFromDisposeScope();
            _tokens[projection] = 0;
        }
        sum.add_(xtx);
        _tokens[projection] += x.shape[0];
    }

    public bool Has(string projection) => _sums.ContainsKey(projection);

    /// <summary>Σ xᵀx / positions, float32 (in the caller's scope).</summary>
    public Tensor Mean(string projection) => _sums[projection].div(_tokens[projection]).to(ScalarType.Float32);

    public void Dispose()
    {
        BeginRow();
        foreach (var t in _sums.Values)
            t.Dispose();
        _sums.Clear();
    }
}
