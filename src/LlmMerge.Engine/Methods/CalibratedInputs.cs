using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// The cases regmean, regmean_plusplus and fisher settle before their solve, as FusionBench does: only the models
/// other than the base take part, and a tensor an <c>exclude</c> pattern names keeps the base's value.
/// </summary>
internal static class CalibratedInputs
{
    /// <summary>
    /// Every input but the base. <paramref name="kept"/> is the tensor to return instead of solving, made in the
    /// caller's dispose scope: the only input when no other model takes part, the base's value (float32) for an
    /// excluded tensor; null otherwise.
    /// </summary>
    public static List<ModelTensor> Models(MergeInputs inputs, string method, out Tensor? kept)
    {
        var models = inputs.Tensors.Where(t => t != inputs.Base).ToList();
        kept = null;
        if (models.Count == 0)
        {
            kept = inputs.Tensors[0].Tensor.alias();
            return models;
        }
        var patterns = NameFilters.Of(inputs.Parameters.GetValueOrDefault("exclude"), method, "exclude");
        if (NameFilters.ExcludesByRegex(patterns, inputs.TensorName, method))
        {
            var b = inputs.Base ?? throw new LlmMergeException($"{method}: tensor '{inputs.TensorName}' is excluded, so it keeps the base model's value, but the recipe names no base_model");
            kept = b.Tensor.to(ScalarType.Float32);
        }
        return models;
    }
}
