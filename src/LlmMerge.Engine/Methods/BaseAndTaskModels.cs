using LlmMerge.Core;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// The split the task-vector methods of FusionBench and the geometric median share: the base model's input and every
/// other model's, whose differences from the base are the task vectors τᵢ.
/// </summary>
internal static class BaseAndTaskModels
{
    /// <summary>The count check of a method that needs the base_model and at least one model beside it.</summary>
    public static void RequireBaseAndOne(string method, int models)
    {
        if (models < 2)
            throw new LlmMergeException($"merge method '{method}' needs the base_model and at least one other model (the recipe gives {models} in all)");
    }

    /// <summary>The base's input and the others' in recipe order; fails naming the tensor where the base is missing.</summary>
    public static (ModelTensor Base, List<ModelTensor> Others) Split(MergeInputs inputs, string method)
    {
        var baseInput = inputs.Base ?? throw new LlmMergeException($"{method}: base_model is not among the inputs of tensor '{inputs.TensorName}'");
        return (baseInput, inputs.Tensors.Where(m => m != baseInput).ToList());
    }
}
