using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Methods;

namespace LlmMerge.Engine.Execution;

/// <summary>One input of a planned tensor: which model, which of its tensors, and that model's resolved parameters.</summary>
public sealed record PlannedInput(ModelReference Model, string TensorName, IReadOnlyDictionary<string, object?> Parameters);

/// <summary>One output tensor: its name, shape and dtype, and how it is computed.</summary>
public sealed record PlannedTensor
{
    public required string Name { get; init; }

    public required long[] Shape { get; init; }

    public required SafetensorsDType OutDType { get; init; }

    /// <summary>The dtype inputs are converted to before the method runs.</summary>
    public required SafetensorsDType ComputeDType { get; init; }

    public required IReadOnlyList<PlannedInput> Inputs { get; init; }

    public required IReadOnlyDictionary<string, object?> Parameters { get; init; }

    public bool IsEmbedding { get; init; }

    /// <summary>Non-float tensors are copied from this input untouched.</summary>
    public PlannedInput? PassThrough { get; init; }

    public ModelReference? BaseModel { get; init; }

    /// <summary>Set for embeddings and heads under a tokenizer source: inputs' rows are aligned by token before the method runs.</summary>
    public VocabularyAlignment? Vocabulary { get; init; }
}

/// <summary>A whole merge, decided before any tensor is computed: the writer needs every shape up front.</summary>
public sealed class MergePlan
{
    public required MergeRecipe Recipe { get; init; }

    public required IMergeMethod Method { get; init; }

    public required IReadOnlyList<PlannedTensor> Tensors { get; init; }

    public required ModelConfig? OutputConfig { get; init; }

    public required ModelReference ReferenceModel { get; init; }

    public required SafetensorsDType OutDType { get; init; }

    public required IReadOnlyList<string> Warnings { get; init; }

    public long InputBytes { get; init; }

    /// <summary>The output vocabulary where the recipe gives a tokenizer source; null copies the tokenizer files as they are.</summary>
    public VocabularyAlignment? Vocabulary { get; init; }

    public long OutputBytes => Tensors.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b) * t.OutDType.SizeOf());
}
