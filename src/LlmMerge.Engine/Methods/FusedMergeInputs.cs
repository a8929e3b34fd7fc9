using LlmMerge.Core.Recipes;
using LlmMerge.Engine.Kernels;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>One model's input to a fused merge: its stored elements and that model's resolved tensor parameters.</summary>
public sealed record FusedInput(ModelReference Model, RawTensor Data, IReadOnlyDictionary<string, object?> Parameters)
{
    public double Number(string name) => Parameters.TryGetValue(name, out var v) ? ParameterValues.ToDouble(v, name) : throw new KeyNotFoundException(name);
}

/// <summary>
/// What a fused merge sees for one output tensor: the same as <see cref="MergeInputs"/>, but each input is the raw
/// memory it is stored in (a memory map, or a loaded tensor), read only, in F32, BF16 or F16.
/// </summary>
public sealed class FusedMergeInputs
{
    public required string TensorName { get; init; }

    public required long[] Shape { get; init; }

    /// <summary>The inputs in recipe order; the base model, when there is one, is among them.</summary>
    public required IReadOnlyList<FusedInput> Tensors { get; init; }

    public ModelReference? BaseModel { get; init; }

    public required IReadOnlyDictionary<string, object?> Parameters { get; init; }

    /// <summary>
    /// This tensor's generator (see <see cref="MergeInputs.Random"/>), created on first use so merges that draw
    /// nothing need no libtorch; fused kernels advance it as libtorch would.
    /// </summary>
    public required Lazy<Generator> Random { get; init; }

    public FusedInput? Base => BaseModel is null ? null : Tensors.FirstOrDefault(t => t.Model == BaseModel);

    public long Count => Shape.Aggregate(1L, (a, b) => a * b);

    public bool Flag(string name) => ParameterValues.ToBool(Parameters[name], name);

    public double Number(string name) => ParameterValues.ToDouble(Parameters[name], name);
}
