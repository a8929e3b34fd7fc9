using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>A merge method: its mergekit name, its parameters, and its per-tensor math.</summary>
public interface IMergeMethod
{
    /// <summary>The name recipes use in <c>merge_method</c>.</summary>
    string Name { get; }

    /// <summary>The name and paper the model card cites.</summary>
    string PrettyName { get; }

    string? ReferenceUrl { get; }

    /// <summary>Parameters read once per tensor, not per model (e.g. <c>normalize</c>, slerp's <c>t</c>).</summary>
    IReadOnlyList<ParameterDefinition> Parameters { get; }

    /// <summary>Parameters read per model and tensor (e.g. <c>weight</c>, <c>density</c>).</summary>
    IReadOnlyList<ParameterDefinition> TensorParameters { get; }

    /// <summary>Whether the recipe must name a <c>base_model</c>.</summary>
    bool RequiresBaseModel { get; }

    /// <summary>Checks the number of models the recipe gives; throws naming the method and the count otherwise.</summary>
    void ValidateModelCount(int models, bool hasBase) { }

    /// <summary>Checks the models one output tensor is planned from; throws naming the tensor and the method otherwise.</summary>
    void ValidateTensorInputs(string tensorName, IReadOnlyList<LlmMerge.Core.Recipes.ModelReference> models) { }

    /// <summary>Computes the merged tensor. Inputs share one shape (embeddings are cut to their common submatrix first).</summary>
    Tensor Merge(MergeInputs inputs);
}
