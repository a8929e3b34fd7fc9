using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Calibration;
using LlmMerge.Engine.Execution;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>Each merged model's Fisher diagonal for one tensor, and the weight its whole-model Fisher norm gives it.</summary>
public sealed record FisherStatistics(IReadOnlyDictionary<ModelReference, Tensor> Fisher, IReadOnlyDictionary<ModelReference, double> ModelNorms);

/// <summary>
/// Fisher merging (Matena and Raffel 2022, https://arxiv.org/abs/2111.09832) as FusionBench's
/// <c>merging_with_fisher_weights</c> (fusion_bench/method/fisher_merging/fisher_merging.py at commit 54c9e8c9):
/// θ = Σ cᵢ (Fᵢ + m) θᵢ / Σ cᵢ (Fᵢ + m) per entry, with m = <c>minimal_fisher_weight</c> and cᵢ the model's
/// <c>weight</c> (FusionBench: 1/n for every model); with <c>normalize_fisher_weight</c> each cᵢ is also multiplied by
/// (1 / (‖Fᵢ‖ + m)) / Σⱼ (1 / (‖Fⱼ‖ + m)), ‖Fᵢ‖ the L2 norm of model i's Fisher over every tensor merged. Every model
/// but the base takes part; tensors matching <c>exclude</c> (regular expressions matched at the start) keep the base's
/// value. Float32.
/// </summary>
public sealed class FisherMerge : IPreparingMergeMethod
{
    public string Name => "fisher";

    public string PrettyName => "Fisher Merging";

    public string? ReferenceUrl => "https://arxiv.org/abs/2111.09832";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } =
    [
        new("normalize_fisher_weight", Default: true),
        new("minimal_fisher_weight", Default: 1e-6),
        new("exclude", IsList: true),
    ];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [new("weight", Default: 1.0)];

    public bool RequiresBaseModel => false;

    public IMergePreparation Prepare(MergePreparationContext context)
    {
        var calibration = new CalibrationContext(context, Name);
        var files = new Dictionary<ModelReference, SafetensorsFile>();
        try
        {
            foreach (var m in calibration.Models)
                files[m] = FisherDiagonals.Get(calibration, m);
            // FusionBench's get_models_fisher_norm: per model, the L2 norm over every merged tensor's Fisher.
            var squares = calibration.Models.ToDictionary(m => m, _ => 0.0);
            foreach (var t in context.Plan.Tensors)
            {
                if (t.PassThrough is not null || NameFilters.ExcludesByRegex(NameFilters.Of(t.Parameters.GetValueOrDefault("exclude"), Name, "exclude"), t.Name, Name))
                    continue;
                foreach (var input in t.Inputs)
                {
                    if (!files.TryGetValue(input.Model, out var file) || !file.Contains(input.TensorName))
                        continue;
                    using var scope = NewDisposeScope();
                    var f = StatisticsCache.Load(file, input.TensorName, calibration.Device).to(ScalarType.Float64);
                    squares[input.Model] += f.flatten().dot(f.flatten()).item<double>();
                }
            }
            return new FisherPreparation(calibration, files, squares.ToDictionary(kv => kv.Key, kv => Math.Sqrt(kv.Value)));
        }
        catch
        {
            foreach (var f in files.Values)
                f.Dispose();
            calibration.Dispose();
            throw;
        }
    }

    public Tensor Merge(MergeInputs inputs)
    {
        using var scope = NewDisposeScope();
        var models = CalibratedInputs.Models(inputs, Name, out var kept);
        if (kept is not null)
            return kept.MoveToOuterDisposeScope();
        if (inputs.Prepared is not FisherStatistics stats || models.Any(m => !stats.Fisher.ContainsKey(m.Model)))
            throw new LlmMergeException($"fisher: no Fisher statistics for tensor '{inputs.TensorName}' of every model; the calibration pass did not reach it");

        double minimal = inputs.Number("minimal_fisher_weight");
        var coefficients = models.Select(m => m.Number("weight")).ToArray();
        if (inputs.Flag("normalize_fisher_weight"))
        {
            var inverse = models.Select(m => 1.0 / (stats.ModelNorms[m.Model] + minimal)).ToArray();
            double total = inverse.Sum();
            coefficients = coefficients.Select((c, i) => c * (inverse[i] / total)).ToArray();
        }
        var shape = models[0].Tensor.shape;
        var values = stack(models.Select(m => m.Tensor.to(ScalarType.Float32)).ToArray(), 0);
        var fisher = stack(models.Select(m => FitTo(stats.Fisher[m.Model], shape, inputs.TensorName)).ToArray(), 0).add(minimal);
        var c = tensor(coefficients, ScalarType.Float32, values.device).reshape([-1, .. Enumerable.Repeat(1L, shape.Length)]);
        var weighted = c.mul(fisher);
        return weighted.mul(values).sum([0]).div(weighted.sum([0])).MoveToOuterDisposeScope();
    }

    /// <summary>The Fisher of a tensor the planner cut to the models' common submatrix (embeddings of different vocabularies), cut alike.</summary>
    private static Tensor FitTo(Tensor fisher, long[] shape, string tensorName)
    {
        if (fisher.shape.SequenceEqual(shape))
            return fisher;
        if (fisher.dim() != shape.Length || fisher.shape.Zip(shape).Any(x => x.First < x.Second))
            throw new LlmMergeException($"fisher: the Fisher statistics of tensor '{tensorName}' have shape [{string.Join(", ", fisher.shape)}], the tensor [{string.Join(", ", shape)}]");
        var r = fisher;
        for (int d = 0; d < shape.Length; d++)
            r = r.narrow(d, 0, shape[d]);
        return r;
    }
}

/// <summary>Each model's Fisher file and whole-model norm; per tensor, every model's Fisher of it.</summary>
internal sealed class FisherPreparation(CalibrationContext calibration, IReadOnlyDictionary<ModelReference, SafetensorsFile> files, IReadOnlyDictionary<ModelReference, double> norms) : IMergePreparation
{
    public object? For(PlannedTensor tensor)
    {
        var fisher = new Dictionary<ModelReference, Tensor>();
        foreach (var input in tensor.Inputs)
        {
            if (files.TryGetValue(input.Model, out var file) && file.Contains(input.TensorName))
                fisher[input.Model] = StatisticsCache.Load(file, input.TensorName, calibration.Device);
        }
        return fisher.Count == 0 ? null : new FisherStatistics(fisher, norms);
    }

    public void Dispose()
    {
        foreach (var f in files.Values)
            f.Dispose();
        calibration.Dispose();
    }
}
