using LlmMerge.Core.Recipes;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>One model's tensor for the tensor being merged, with that model's resolved tensor parameters.</summary>
public sealed record ModelTensor(ModelReference Model, Tensor Tensor, IReadOnlyDictionary<string, object?> Parameters)
{
    public double Number(string name) => Parameters.TryGetValue(name, out var v) ? ParameterValues.ToDouble(v, name) : throw new KeyNotFoundException(name);
}

/// <summary>Everything a method sees for one output tensor.</summary>
public sealed class MergeInputs
{
    public required string TensorName { get; init; }

    /// <summary>Input or output embedding (embed_tokens, lm_head): may differ in vocabulary size between models.</summary>
    public bool IsEmbedding { get; init; }

    /// <summary>The inputs in recipe order; the base model, when there is one, is among them.</summary>
    public required IReadOnlyList<ModelTensor> Tensors { get; init; }

    public ModelReference? BaseModel { get; init; }

    public required IReadOnlyDictionary<string, object?> Parameters { get; init; }

    /// <summary>A generator seeded for this tensor alone, so random methods give the same result in any order.</summary>
    public required Generator Random { get; init; }

    /// <summary>
    /// The input tensors are held beyond this call (by an input cache across search candidates): a method must not
    /// modify them in place. When false the executor loaded them for this tensor alone and a method may reuse
    /// their memory.
    /// </summary>
    public bool InputsShared { get; init; }

    /// <summary>
    /// What the method's own preparation (<see cref="IPreparingMergeMethod"/>) left for this tensor, such as each
    /// model's calibration statistics; null for methods that prepare nothing, or for a tensor it has nothing for.
    /// </summary>
    public object? Prepared { get; init; }

    /// <summary>
    /// Compute with the code paths that came before the fused kernels (<see cref="FusedTaskArithmetic"/> and the
    /// libtorch operations), kept as the reference the fused kernels are tested against.
    /// </summary>
    public bool ReferenceKernels { get; init; }

    public ModelTensor? Base => BaseModel is null ? null : Tensors.FirstOrDefault(t => t.Model == BaseModel);

    /// <summary>These inputs, with tensors a method may overwrite: the same object when they are not shared, else copies (in the caller's dispose scope).</summary>
    public MergeInputs Owned() => !InputsShared ? this : new MergeInputs
    {
        TensorName = TensorName,
        IsEmbedding = IsEmbedding,
        Tensors = Tensors.Select(t => t with { Tensor = t.Tensor.clone() }).ToList(),
        BaseModel = BaseModel,
        Parameters = Parameters,
        Random = Random,
        InputsShared = false,
        Prepared = Prepared,
        ReferenceKernels = ReferenceKernels,
    };

    public bool Flag(string name) => ParameterValues.ToBool(Parameters[name], name);

    public double Number(string name) => ParameterValues.ToDouble(Parameters[name], name);
}
