using LlmMerge.Core;
using LlmMerge.Engine.Calibration;
using LlmMerge.Engine.Execution;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// RegMean++ (Nguyen et al. 2025, https://arxiv.org/abs/2508.03121) as FusionBench's RegMeanAlgorithmPlusPlus
/// (fusion_bench/method/regmean_plusplus/regmean_plusplus.py at commit 54c9e8c9): RegMean, with each layer's Gram
/// matrices taken on the inputs the merged model so far gives that layer (see <see cref="RegMeanPlusPlusStatistics"/>).
/// Whole models only: the layers are merged in order, so slices that move layers are refused.
/// </summary>
public sealed class RegMeanPlusPlusMerge : RegMeanMerge
{
    public override string Name => "regmean_plusplus";

    public override string PrettyName => "RegMean++";

    public override string? ReferenceUrl => "https://arxiv.org/abs/2508.03121";

    public override IMergePreparation Prepare(MergePreparationContext context)
    {
        var plan = context.Plan;
        if (plan.Recipe.Slices is not null || plan.Tensors.Any(t => t.Inputs.Any(i => i.TensorName != t.Name)))
            throw new LlmMergeException("regmean_plusplus merges whole models layer by layer: give 'models', not 'slices' that move or stack layers");
        var byName = plan.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        (double, IReadOnlyList<string>) Settings(string name) => byName.TryGetValue(name, out var t)
            ? (ParameterValues.ToDouble(t.Parameters["reduce_non_diagonal_ratio"], "reduce_non_diagonal_ratio"), NameFilters.Of(t.Parameters.GetValueOrDefault("exclude"), Name, "exclude"))
            : throw new LlmMergeException($"regmean_plusplus: the merged model has tensor '{name}', which the merge does not plan; the models must share the base's architecture");
        var calibration = new CalibrationContext(context, Name);
        try
        {
            var files = RegMeanPlusPlusStatistics.Get(calibration, plan.Tensors.Select(t => t.Name).ToList(), Settings);
            return new GramPreparation(calibration, files);
        }
        catch
        {
            calibration.Dispose();
            throw;
        }
    }
}
