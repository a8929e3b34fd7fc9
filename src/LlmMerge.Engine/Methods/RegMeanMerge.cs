using LlmMerge.Core;
using LlmMerge.Engine.Calibration;
using LlmMerge.Engine.Execution;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// RegMean (Jin et al. 2023, https://arxiv.org/abs/2212.09849) as FusionBench's RegMeanAlgorithm
/// (fusion_bench/method/regmean/regmean.py at commit 54c9e8c9): every model but the base is run on its calibration
/// rows and each linear projection's Gram matrix Gᵢ = XᵢᵀXᵢ / positions is kept; each projection weight becomes
/// (Σ Gᵢ')⁻¹ Σ Gᵢ' Wᵢ (see <see cref="RegMeanMath"/>), every other tensor the models' mean, and tensors matching an
/// <c>exclude</c> pattern (FusionBench's <c>exclude_param_names_regex</c>, matched at the start) keep the base's value.
/// Computed in float32. The base takes no part but as the holder of excluded tensors.
/// </summary>
public class RegMeanMerge : IPreparingMergeMethod
{
    public virtual string Name => "regmean";

    public virtual string PrettyName => "RegMean";

    public virtual string? ReferenceUrl => "https://arxiv.org/abs/2212.09849";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } =
    [
        new("reduce_non_diagonal_ratio", Default: 0.1),
        new("exclude", IsList: true),
    ];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [];

    public bool RequiresBaseModel => false;

    public virtual IMergePreparation Prepare(MergePreparationContext context)
    {
        var calibration = new CalibrationContext(context, Name);
        try
        {
            var files = calibration.Models.ToDictionary(m => m, m => GramStatistics.Get(calibration, m));
            return new GramPreparation(calibration, files);
        }
        catch
        {
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
        if (inputs.Prepared is RegMeanStatistics stats && models.All(m => stats.Grams.ContainsKey(m.Model)))
        {
            return RegMeanMath.Solve(models.Select(m => m.Tensor).ToList(), models.Select(m => stats.Grams[m.Model]).ToList(),
                inputs.Number("reduce_non_diagonal_ratio"), inputs.TensorName).MoveToOuterDisposeScope();
        }
        return RegMeanMath.Mean(models.Select(m => m.Tensor).ToList()).MoveToOuterDisposeScope();
    }
}

/// <summary>Each model's Gram file; for a projection weight, the statistics of every model that has one for it.</summary>
internal sealed class GramPreparation(CalibrationContext calibration, IReadOnlyDictionary<Core.Recipes.ModelReference, Core.SafeTensors.SafetensorsFile> files) : IMergePreparation
{
    public object? For(PlannedTensor tensor)
    {
        var grams = new Dictionary<Core.Recipes.ModelReference, Tensor>();
        foreach (var input in tensor.Inputs)
        {
            if (!files.TryGetValue(input.Model, out var file) || !input.TensorName.EndsWith(".weight", StringComparison.Ordinal))
                continue;
            string module = input.TensorName[..^".weight".Length];
            if (file.Contains(module))
                grams[input.Model] = StatisticsCache.Load(file, module, calibration.Device);
        }
        return grams.Count == 0 ? null : new RegMeanStatistics(grams);
    }

    public void Dispose()
    {
        foreach (var f in files.Values)
            f.Dispose();
        calibration.Dispose();
    }
}
