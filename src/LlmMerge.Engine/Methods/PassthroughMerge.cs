using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// Copies each tensor from the one model its slice names, optionally multiplied by that model's <c>scale</c>,
/// as mergekit's passthrough does; the method behind layer stacking (frankenmerges).
/// </summary>
public sealed class PassthroughMerge : IMergeMethod
{
    public string Name => "passthrough";

    public string PrettyName => "Passthrough";

    public string? ReferenceUrl => null;

    public IReadOnlyList<ParameterDefinition> Parameters { get; } = [];

    // mergekit's default is None: no multiplication at all, so an unscaled tensor keeps its exact bits.
    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [new("scale")];

    public bool RequiresBaseModel => false;

    /// <summary>mergekit fails only when the tensor is computed; we say so while planning, before anything is written.</summary>
    public void ValidateTensorInputs(string tensorName, IReadOnlyList<ModelReference> models)
    {
        if (models.Count != 1)
            throw new LlmMergeException(
                $"merge method 'passthrough' takes exactly one model per slice, but tensor '{tensorName}' would come from {models.Count} "
                + $"({string.Join(", ", models.Select(m => $"'{m}'"))}); give each slice a single source (and no base_model that is not that source)");
    }

    public Tensor Merge(MergeInputs inputs)
    {
        var only = inputs.Tensors[0];
        return only.Parameters.TryGetValue("scale", out var s) && s is not null
            ? only.Tensor.mul(ParameterValues.ToDouble(s, "scale"))
            : only.Tensor.alias();
    }
}
